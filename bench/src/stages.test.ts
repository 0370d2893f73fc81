import { describe, expect, it } from "vitest";
import { stageLatencies } from "./stages.js";

const job = (occurredMs: number, enqueuedMs: number, added: number, taken: number, finished: number) => ({
  data: { occurred_at: new Date(occurredMs).toISOString(), enqueued_at: new Date(enqueuedMs).toISOString() },
  timestamp: added,
  processedOn: taken,
  finishedOn: finished,
});

describe("stage latencies of completed jobs", () => {
  it("splits each job's time into its stages, for the jobs whose event occurred in the window", () => {
    const stages = stageLatencies(
      [
        job(1_000, 1_004, 1_005, 1_025, 1_028),
        job(2_000, 2_002, 2_003, 2_004, 2_010),
        // Outside the window: another phase's event.
        job(9_000, 9_500, 9_600, 9_700, 9_800),
        // Not yet taken by a worker: left out rather than counted as zero.
        {
          data: { occurred_at: new Date(1_500).toISOString(), enqueued_at: new Date(1_501).toISOString() },
          timestamp: 1_502,
        },
      ],
      0,
      5_000,
    );
    expect(stages.toApplied).toMatchObject({ p50: 2, max: 4, samples: 2 });
    expect(stages.toEnqueued).toMatchObject({ p50: 1, max: 1, samples: 2 });
    expect(stages.queued).toMatchObject({ p50: 1, max: 20, samples: 2 });
    expect(stages.processing).toMatchObject({ p50: 3, max: 6, samples: 2 });
  });
});
