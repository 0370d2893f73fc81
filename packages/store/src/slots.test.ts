import { describe, expect, it } from "vitest";
import { hashTagOf, slotOf } from "./slots.js";

describe("slotOf", () => {
  it("matches the cluster specification's examples", () => {
    // CRC16/XMODEM("123456789") = 0x31C3; CLUSTER KEYSLOT answers for the others.
    expect(slotOf("123456789")).toBe(0x31c3);
    expect(slotOf("foo")).toBe(12182);
    expect(slotOf("{user1000}.following")).toBe(slotOf("{user1000}.followers"));
    expect(slotOf("foo{}{bar}")).toBe(slotOf("foo{}{bar}"));
    expect(hashTagOf("foo{}{bar}")).toBe("foo{}{bar}");
    expect(hashTagOf("foo{{bar}}zap")).toBe("{bar");
    expect(hashTagOf("foo{bar}{zap}")).toBe("bar");
  });

  it("hashes the UTF-8 bytes of a tag", () => {
    expect(slotOf("hs:{h:café}:snapshot")).toBe(slotOf(Buffer.from("hs:{h:café}:ledger", "utf8")));
  });
});
