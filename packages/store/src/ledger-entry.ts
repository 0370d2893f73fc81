import { z } from "zod";

export const LedgerEntrySchema = z.object({
  version: z.number().int().min(1),
  record_id: z.string().optional(),
  delivered_at: z.string(),
});
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;
