/** Something named in the request does not exist: a destination, a dead letter, a handoff. */
export class AdminNotFoundError extends Error {
  override readonly name = "AdminNotFoundError";
}

/** The request cannot be carried out as asked (a bad time range, nothing selected). */
export class AdminInputError extends Error {
  override readonly name = "AdminInputError";
}

/** A dependency this action needs is not configured here (e.g. Kafka for the rejected events). */
export class AdminUnavailableError extends Error {
  override readonly name = "AdminUnavailableError";
}
