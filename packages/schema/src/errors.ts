import { z } from "zod";
import type { RejectionReason } from "./limits.js";

export interface HandoffSyncErrorOptions {
  readonly cause?: unknown;
}

/**
 * Base of every error the project throws on purpose. `retryable` tells the queue what to do, so callers
 * never branch on message text.
 */
export abstract class HandoffSyncError extends Error {
  abstract readonly retryable: boolean;

  constructor(message: string, options: HandoffSyncErrorOptions = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
  }
}

// Names live on the prototype (set in static blocks below) rather than as instance fields: V8 reads
// `name` while building the stack header inside `super()`, before instance fields exist.

export interface DeliveryErrorOptions extends HandoffSyncErrorOptions {
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** An allow-listed, truncated excerpt of the CRM's response; never a whole body (it may hold personal data). */
  readonly responseExcerpt?: string;
}

export type DeliveryErrorScope = "record" | "destination";

/** One delivery attempt's outcome when it did not succeed. Adapters throw these; the processor acts on them. */
export abstract class DeliveryError extends HandoffSyncError {
  abstract readonly scope: DeliveryErrorScope;
  // `declare` keeps absent options absent instead of own properties set to undefined.
  declare readonly status?: number;
  declare readonly retryAfterMs?: number;
  declare readonly responseExcerpt?: string;

  static {
    this.prototype.name = "DeliveryError";
  }

  constructor(message: string, options: DeliveryErrorOptions = {}) {
    super(message, options);
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.responseExcerpt !== undefined) this.responseExcerpt = options.responseExcerpt;
  }
}

/** Timeouts, connection errors, 408/423/429/5xx: the same request may succeed later. */
export class RetryableDeliveryError extends DeliveryError {
  readonly scope = "record";
  readonly retryable = true;

  static {
    this.prototype.name = "RetryableDeliveryError";
  }
}

/** This record's data is refused (a validation error on one record): retrying cannot help, dead-letter now. */
export class PermanentDeliveryError extends DeliveryError {
  readonly scope = "record";
  readonly retryable = false;

  static {
    this.prototype.name = "PermanentDeliveryError";
  }
}

export interface DestinationErrorOptions extends DeliveryErrorOptions {
  /** What the CRM admin must fix before the destination's queue is resumed. */
  readonly adminHint: string;
}

/**
 * Every record would fail the same way (credentials, permissions, unknown object or field, quota): the
 * destination's queue is parked instead of dead-lettering an outage record by record.
 */
export class DestinationError extends DeliveryError {
  readonly scope = "destination";
  readonly retryable = false;
  readonly adminHint: string;

  static {
    this.prototype.name = "DestinationError";
  }

  constructor(message: string, options: DestinationErrorOptions) {
    super(message, options);
    this.adminHint = options.adminHint;
  }
}

/**
 * The CRM account's request allocation is spent (a daily limit, Salesforce's rolling 24 hours):
 * the destination parks with cause `quota`, until `retryAfterMs` (the reset) when it is known.
 */
export class QuotaExhaustedError extends DestinationError {
  static {
    this.prototype.name = "QuotaExhaustedError";
  }
}

/** 401/403 that persisted after one token refresh. */
export class AuthError extends DestinationError {
  static {
    this.prototype.name = "AuthError";
  }

  constructor(message: string, options: Partial<DestinationErrorOptions> = {}) {
    super(message, {
      ...options,
      adminHint:
        options.adminHint ??
        "Check the destination's credentials and the integration user's permissions, then resume the queue.",
    });
  }
}

/**
 * This delivery may no longer write: a later delivery of the same (handoff, destination) took the
 * fencing token (this one lost its queue lock, during a long stall say), the ledger already holds
 * this version or a newer one, or the delivery was cancelled. Nothing was written by this attempt;
 * whoever superseded it delivers, so retrying would only risk a duplicate or a backward write.
 */
export class SupersededDeliveryError extends HandoffSyncError {
  readonly retryable = false;
  readonly reason: "fenced" | "already_delivered" | "lock_lost";

  static {
    this.prototype.name = "SupersededDeliveryError";
  }

  constructor(
    reason: SupersededDeliveryError["reason"],
    message: string,
    options: HandoffSyncErrorOptions = {},
  ) {
    super(message, options);
    this.reason = reason;
  }
}

/** An event names a state the catalogue does not declare; the consumer rejects it as `unknown_state`. */
export class UnknownStateError extends HandoffSyncError {
  readonly retryable = false;
  readonly reason = "unknown_state";
  readonly state: string;

  static {
    this.prototype.name = "UnknownStateError";
  }

  constructor(state: string, options: HandoffSyncErrorOptions = {}) {
    super(`state "${state}" is not in the state catalogue`, options);
    this.state = state;
  }
}

/**
 * One record cannot be turned into a stored handoff, and never will be: its shape, its content or
 * the snapshot it would make is at fault, not Redis or Kafka. The consumer rejects the record with
 * `reason` and moves on; a retry would fail the same way.
 */
export class UnprocessableEventError extends HandoffSyncError {
  readonly retryable = false;
  readonly reason: RejectionReason;

  static {
    this.prototype.name = "UnprocessableEventError";
  }

  constructor(reason: RejectionReason, message: string, options: HandoffSyncErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
  }
}

/** The configured custom states cannot form a catalogue; raised at startup, never per event. */
export class InvalidCatalogueError extends HandoffSyncError {
  readonly retryable = false;
  readonly problems: readonly string[];

  static {
    this.prototype.name = "InvalidCatalogueError";
  }

  constructor(problems: readonly string[], options: HandoffSyncErrorOptions = {}) {
    super(`invalid state catalogue: ${problems.join("; ")}`, options);
    this.problems = problems;
  }
}

function isProgrammerError(err: Error): boolean {
  if (
    err instanceof TypeError ||
    err instanceof ReferenceError ||
    err instanceof RangeError ||
    err instanceof SyntaxError
  ) {
    return true;
  }
  // The name check catches a ZodError from a second copy of zod in the dependency tree, which
  // `instanceof` would miss.
  return err instanceof z.core.$ZodError || err.name === "ZodError";
}

/**
 * Whether retrying could help. Our own errors say so themselves; programmer bugs and schema failures
 * never succeed on retry; anything else (network, driver, unexpected) defaults to retryable, bounded by
 * the job's attempts.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof HandoffSyncError) return err.retryable;
  if (err instanceof Error && isProgrammerError(err)) return false;
  return true;
}
