import { randomBytes } from "node:crypto";

/** A name no other test or earlier run uses, so tests run in parallel and rerun without cleanup. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}
