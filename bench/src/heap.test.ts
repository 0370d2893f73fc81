import { describe, expect, it } from "vitest";
import { parseHeap } from "./heap.js";

describe("parseHeap", () => {
  it("reads the heap used and total from a service's metrics, with or without labels", () => {
    const text = [
      "# HELP handoff_sync_nodejs_heap_size_total_bytes Process heap size from Node.js in bytes.",
      "# TYPE handoff_sync_nodejs_heap_size_total_bytes gauge",
      'handoff_sync_nodejs_heap_size_total_bytes{service="worker"} 41943040',
      'handoff_sync_nodejs_heap_size_used_bytes{service="worker"} 2.5e+7',
    ].join("\n");
    expect(parseHeap(text)).toEqual({ used: 25_000_000, total: 41_943_040 });
    expect(parseHeap("nodejs_heap_size_used_bytes 1\nnodejs_heap_size_total_bytes 2")).toEqual({
      used: 1,
      total: 2,
    });
    expect(parseHeap("nothing here")).toBeUndefined();
  });
});
