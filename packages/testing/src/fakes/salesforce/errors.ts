import type { Fault } from "../faults.js";

/** One entry of Salesforce's REST error body, which is always an array of these. */
export interface SalesforceApiError {
  readonly message: string;
  readonly errorCode: string;
  readonly fields: readonly string[];
}

export function salesforceErrors(
  errorCode: string,
  message: string,
  fields: readonly string[] = [],
): SalesforceApiError[] {
  return [{ message, errorCode, fields }];
}

/** A `status` fault answering with a Salesforce error body, e.g. 400 UNABLE_TO_LOCK_ROW or 503 SERVER_UNAVAILABLE. */
export function salesforceFault(
  status: number,
  errorCode: string,
  message: string,
  headers?: Readonly<Record<string, string>>,
): Fault {
  return {
    kind: "status",
    status,
    body: JSON.stringify(salesforceErrors(errorCode, message)),
    contentType: "application/json;charset=UTF-8",
    ...(headers === undefined ? {} : { headers }),
  };
}

export const NOT_FOUND_MESSAGE = "The requested resource does not exist";
export const PROCESSING_HALTED_MESSAGE =
  "The transaction was rolled back since another operation in the same transaction failed.";
