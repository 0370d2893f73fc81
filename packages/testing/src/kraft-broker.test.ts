import { describe, expect, it } from "vitest";
import { kraftClusterId } from "./kraft-broker.js";

describe("kraftClusterId", () => {
  it("never starts with '-', which StorageTool would read as an option, and is 16 bytes in base64url", () => {
    // 0xF8 encodes to '-' as the first base64url character; the next draw does not.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x11)];
    const id = kraftClusterId(() => draws.shift() ?? Buffer.alloc(16));
    expect(id).toBe(Buffer.alloc(16, 0x11).toString("base64url"));
    expect(Buffer.alloc(16, 0xf8).toString("base64url").startsWith("-")).toBe(true);
    expect(kraftClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});
