import { StateNameSchema } from "@handoff-sync/schema";
import { z } from "zod";
import { int } from "./destinations/base.js";
import { SecretRefSchema } from "./secret-ref.js";

/**
 * What the records on `source.topic` are. One topic carries one format: a deployment that receives
 * several formats runs one consumer per topic, each with its own destinations file.
 */
export const InputFormatSchema = z
  .enum(["handoff_event", "chat_respond", "sip_headers"])
  .describe(
    "handoff_event: the native event; chat_respond: a Chat API chat/respond payload; sip_headers: a JSON object of SIP headers.",
  );
export type InputFormat = z.infer<typeof InputFormatSchema>;

/** A dotted path into the payload (`metadata.customer_id`); a key of a JSON object, never an index. */
const PayloadPathSchema = z
  .string()
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, "must be a dotted path such as metadata.customer_id");

const DataFieldsSchema = z.record(z.string().min(1), PayloadPathSchema);

export const ChatRespondInputSchema = z
  .strictObject({
    /** The state a handoff signalled on chat/respond is in; a declared topic-specific state also works. */
    state: StateNameSchema.default("handoff_initiated"),
    channel: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe("Set as the event's channel, e.g. webchat or sms."),
    shared_id: PayloadPathSchema.optional().describe(
      "Path of the shared id in the payload, when the connector adds one.",
    ),
    data: DataFieldsSchema.default({}).describe(
      "data field -> path in the payload, e.g. customer_id: metadata.customer_id.",
    ),
  })
  .describe("How a chat/respond payload becomes a handoff event.");
export type ChatRespondInput = z.infer<typeof ChatRespondInputSchema>;

const HeaderNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "must be a SIP header name such as X-Conversation-Id");

export const SipHeadersInputSchema = z
  .strictObject({
    id: HeaderNameSchema.describe("Header carrying the conversation id (required in every record)."),
    shared_id: HeaderNameSchema.optional(),
    state: HeaderNameSchema.optional().describe(
      "Header carrying the state; `default_state` applies when it is absent.",
    ),
    default_state: StateNameSchema.optional(),
    event_id: HeaderNameSchema.optional().describe("Omitted or absent: derived from the payload's content."),
    occurred_at: HeaderNameSchema.optional().describe("Omitted or absent: the Kafka record's timestamp."),
    channel: HeaderNameSchema.optional(),
    destination: HeaderNameSchema.optional(),
    reason: HeaderNameSchema.optional(),
    data: z.record(z.string().min(1), HeaderNameSchema).default({}).describe("data field -> header name."),
    methods: z
      .record(
        z.string().regex(/^[A-Z]+$/, "must be a SIP method in capitals such as REFER, INVITE or BYE"),
        StateNameSchema,
      )
      .default({})
      .describe(
        "SIP method -> state, e.g. REFER: handoff_initiated, BYE: handoff_completed; used when the state header is absent.",
      ),
    user_to_user: z
      .strictObject({
        header: HeaderNameSchema.default("User-to-User"),
        format: z
          .enum(["text", "form", "json"])
          .default("form")
          .describe(
            "What the decoded bytes are: form (key=value pairs joined by & or ;), json (an object) or text (one value).",
          ),
      })
      .optional()
      .describe(
        "Decodes the User-to-User header (RFC 7433; encoding hex, the default, or base64); mapping names uui.<key> (or uui for text) read its content.",
      ),
  })
  .refine(
    (mapping) =>
      mapping.state !== undefined ||
      mapping.default_state !== undefined ||
      Object.keys(mapping.methods).length > 0,
    {
      message: "name the state header (state:), map SIP methods to states (methods:) or give a default_state",
    },
  )
  .describe("Header -> field mapping of this deployment; header names are matched case-insensitively.");
export type SipHeadersInput = z.infer<typeof SipHeadersInputSchema>;

export const EnrichmentSchema = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
      .describe(
        "The Handoff API base of one project, e.g. https://api.example/v1/ACCOUNT_ID/PROJECT_ID; /handoff_state is appended.",
      ),
    api_key: SecretRefSchema.describe("Sent as x-api-key."),
    timeout_ms: int(100, 60_000).default(5_000),
    allow_private_network: z.boolean().default(false),
    /** The upstream may not know a handoff yet when its first event arrives: 404 is retried this long. */
    not_found_retry_ms: int(0, 86_400_000).default(120_000),
  })
  .describe("Fetch the handoff's full data from an upstream Handoff API before mapping.");
export type Enrichment = z.infer<typeof EnrichmentSchema>;

/** Fields `SourceSchema` spreads in; kept here so the input formats stay in one place. */
export const sourceInputFields = {
  format: InputFormatSchema.default("handoff_event"),
  chat_respond: ChatRespondInputSchema.optional().describe(
    "Omitted: the defaults (state handoff_initiated, no extra data).",
  ),
  sip_headers: SipHeadersInputSchema.optional(),
  enrichment: EnrichmentSchema.optional(),
};

/** `format: sip_headers` cannot guess a deployment's headers. */
export function checkSourceInputs(
  source: { format: InputFormat; sip_headers?: unknown },
  ctx: z.RefinementCtx,
): void {
  if (source.format === "sip_headers" && source.sip_headers === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["sip_headers"],
      message: "format sip_headers needs a sip_headers: header mapping (at least id: and state:)",
    });
  }
}
