import type { HandoffSnapshot } from "@handoff-sync/schema";

/** What mapping paths see: the snapshot without its history, plus the destination's name. */
export interface MappingView {
  readonly key: string;
  readonly id: string;
  readonly shared_id: string | null;
  readonly state: string;
  readonly stage: string;
  readonly version: number;
  readonly occurred_at: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly channel: string | null;
  readonly destination: string | null;
  readonly reason: string | null;
  readonly data: Readonly<Record<string, unknown>>;
  readonly target: string;
}

export function mappingView(snapshot: HandoffSnapshot, target: string): MappingView {
  return {
    key: snapshot.key,
    id: snapshot.id,
    shared_id: snapshot.shared_id ?? null,
    state: snapshot.state,
    stage: snapshot.stage,
    version: snapshot.version,
    occurred_at: snapshot.occurred_at,
    created_at: snapshot.created_at,
    updated_at: snapshot.updated_at,
    channel: snapshot.channel ?? null,
    destination: snapshot.destination ?? null,
    reason: snapshot.reason ?? null,
    data: snapshot.data,
    target,
  };
}
