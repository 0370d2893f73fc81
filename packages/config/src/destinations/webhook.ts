import { z } from "zod";
import { SecretRefSchema } from "../secret-ref.js";
import { destinationBase } from "./base.js";

export const WebhookDestinationSchema = z.strictObject({
  type: z.literal("webhook"),
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
  /** One ref, or several while rotating: every secret signs, so receivers can switch at leisure. */
  // Preprocessing instead of a union keeps the ref's own message ("use env:...") instead of "Invalid input".
  secret: z.preprocess(
    (value) => (typeof value === "string" ? [value] : value),
    z.array(SecretRefSchema).min(1),
  ),
  ...destinationBase,
});
export type WebhookDestination = z.infer<typeof WebhookDestinationSchema>;
