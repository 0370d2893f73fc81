import type { FieldMapping, Resolved, SalesforceDestination } from "@handoff-sync/config";
import type { HandoffSnapshot } from "@handoff-sync/schema";
import { applyMapping } from "../mapping/evaluate.js";
import { mappingView } from "../mapping/view.js";

type SalesforceConfig = Resolved<SalesforceDestination>;

/** Case fields when the destination has no `mapping`: standard fields only, so no set-up beyond the two custom fields. */
export const DEFAULT_SALESFORCE_MAPPING: FieldMapping = {
  Subject: { template: "AI handoff: {{reason}}", truncate: 255 },
  Description: {
    template:
      "Handoff {{key}} is {{state}} ({{stage}}).\nReason: {{reason}}\nCustomer: {{data.customer_id}}\nChannel: {{channel}}\nConversation: {{id}}",
    truncate: 32_000,
  },
  Status: { path: "stage", lookup: { initiated: "New", completed: "Working", failed: "Escalated" } },
};

/**
 * Task fields when `task.mapping` is omitted. One task per handoff is updated by later states, so
 * Status and Priority are left to the picklist defaults and to the agent: setting them here would
 * reopen a task the agent already completed.
 */
export const DEFAULT_SALESFORCE_TASK_MAPPING: FieldMapping = {
  Subject: { template: "Follow up AI handoff: {{reason}}", truncate: 255 },
  Description: {
    template: "Handoff {{key}} is {{state}} ({{stage}}).\nCustomer: {{data.customer_id}}",
    truncate: 32_000,
  },
};

/** The composite reference to the record's id, resolved by Salesforce inside the same call. */
export const RECORD_REFERENCE = "refRecord";
const TASK_REFERENCE = "refTask";

/** Salesforce's limit for a text External ID field. */
export const MAX_EXTERNAL_ID_LENGTH = 255;

/**
 * Why a handoff key cannot be addressed as an external id in a Salesforce REST URL, if it cannot.
 * The key is a path segment of the upsert URL: `.` and `..` are dot segments every URL parser
 * removes (also when percent-encoded), so the request would land on the field or the object root;
 * Salesforce decodes `%2F` and `%5C` before routing, so a slash or backslash splits the segment.
 */
export function salesforceKeyProblem(key: string): string | undefined {
  if (key.length > MAX_EXTERNAL_ID_LENGTH)
    return `is ${key.length} characters; a Salesforce External ID text field holds at most ${MAX_EXTERNAL_ID_LENGTH}`;
  if (key === "." || key === "..")
    return `is "${key}", a path segment that cannot be addressed in a Salesforce upsert URL`;
  if (/[/\\]/.test(key))
    return "contains a slash or backslash, which Salesforce's REST API cannot take in an external id in the URL";
  return undefined;
}

export interface SalesforceSubrequest {
  readonly method: "PATCH";
  /** Below the instance URL, e.g. /services/data/v62.0/sobjects/Case/Handoff_Key__c/conv-1. */
  readonly url: string;
  readonly body: Readonly<Record<string, unknown>>;
}

/** What one delivery sends: one sObject write, or a composite call when a task rides along. */
export type SalesforceWrite =
  | {
      readonly kind: "single";
      readonly operation: "upsert" | "update";
      readonly request: SalesforceSubrequest;
    }
  | {
      readonly kind: "composite";
      readonly operation: "upsert" | "update";
      readonly url: string;
      readonly body: {
        readonly allOrNone: true;
        readonly compositeRequest: readonly (SalesforceSubrequest & { readonly referenceId: string })[];
      };
    };

/**
 * The external id is the handoff key itself: it is stable across versions and readable to an admin
 * searching Salesforce. Every retry and every later state therefore lands on the same record.
 */
export function salesforceExternalId(snapshot: HandoffSnapshot): string {
  return snapshot.key;
}

function withoutKeys(fields: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const drop = new Set(names.map((name) => name.toLowerCase()));
  return Object.fromEntries(Object.entries(fields).filter(([name]) => !drop.has(name.toLowerCase())));
}

/**
 * A record body from mapped fields: never `Id` or the external-id field (Salesforce refuses them in
 * an upsert body; the key travels in the URL), always the handoff version.
 */
export function salesforceBody(
  mapped: Record<string, unknown>,
  externalIdField: string,
  versionField: string,
  version: number,
): Record<string, unknown> {
  return { ...withoutKeys(mapped, ["Id", externalIdField, versionField]), [versionField]: version };
}

export function salesforceApiPath(apiVersion: string, ...segments: readonly string[]): string {
  return `/services/data/v${apiVersion}/${segments.map((segment) => encodeURIComponent(segment)).join("/")}`;
}

/**
 * The request(s) one delivery makes; pure, so `preview` can show them. A known record id (from the
 * ledger) is updated by id, which is how a deleted record is noticed; otherwise the record is upserted
 * by external id, which cannot create a second record after an ambiguous failure.
 */
export function buildSalesforceWrite(
  config: SalesforceConfig,
  snapshot: HandoffSnapshot,
  destination: string,
  recordId?: string,
): SalesforceWrite {
  const view = mappingView(snapshot, destination);
  const key = salesforceExternalId(snapshot);
  const body = salesforceBody(
    applyMapping(config.mapping ?? DEFAULT_SALESFORCE_MAPPING, view),
    config.external_id_field,
    config.version_field,
    snapshot.version,
  );
  const operation = recordId === undefined ? "upsert" : "update";
  const record: SalesforceSubrequest = {
    method: "PATCH",
    url:
      recordId === undefined
        ? salesforceApiPath(config.api_version, "sobjects", config.object, config.external_id_field, key)
        : salesforceApiPath(config.api_version, "sobjects", config.object, recordId),
    body,
  };
  const task = config.task;
  if (task === undefined || (task.states !== undefined && !task.states.includes(snapshot.state)))
    return { kind: "single", operation, request: record };

  const taskFields = applyMapping(task.mapping ?? DEFAULT_SALESFORCE_TASK_MAPPING, view);
  const taskBody = {
    ...salesforceBody(taskFields, task.external_id_field, config.version_field, snapshot.version),
    // An update by id answers 204 without a body, so there is nothing to reference: use the id we know.
    [task.link_field]: recordId ?? `@{${RECORD_REFERENCE}.id}`,
  };
  return {
    kind: "composite",
    operation,
    url: salesforceApiPath(config.api_version, "composite"),
    body: {
      allOrNone: true,
      compositeRequest: [
        { ...record, referenceId: RECORD_REFERENCE },
        {
          method: "PATCH",
          url: salesforceApiPath(config.api_version, "sobjects", task.object, task.external_id_field, key),
          body: taskBody,
          referenceId: TASK_REFERENCE,
        },
      ],
    },
  };
}
