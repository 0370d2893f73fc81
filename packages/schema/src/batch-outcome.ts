/**
 * What one item of a batched request came to: its own result, or its own error. A failure of the
 * whole request (a timeout, a 401) is every item's error; each item's job then handles it as if it
 * had sent the request alone.
 */
export type BatchItemOutcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };
