export {
  createZendeskAdapter,
  zendeskBaseUrl,
  type ZendeskAdapterOptions,
  type ZendeskConfig,
} from "./adapter.js";
export { createZendeskAuthorizer, type ZendeskAuthConfig, type ZendeskAuthorizer } from "./auth.js";
export {
  classifyZendeskResponse,
  type ZendeskOperation,
  type ZendeskOutcome,
  type ZendeskResponseInput,
} from "./classify.js";
export { zendeskIdempotencyKey, type ZendeskIdempotencyKeyInput } from "./idempotency-key.js";
export {
  buildZendeskCreateBody,
  buildZendeskUpdateBody,
  unknownZendeskTargets,
  ZENDESK_DEFAULT_MAPPING,
  type ZendeskTicketContext,
} from "./mapping.js";
export { ZendeskTicketSchema, type ZendeskTicket } from "./ticket.js";
