import { describe, expect, it } from "vitest";
import { KeyedLock } from "./key-lock.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("KeyedLock", () => {
  it("runs tasks of one key one after another, and other keys alongside", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`${name} start`);
      await tick();
      log.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([
      lock.run("a", task("a1")),
      lock.run("a", task("a2")),
      lock.run("b", task("b1")),
    ]);
    expect(results).toEqual(["a1", "a2", "b1"]);
    expect(log.indexOf("a2 start")).toBeGreaterThan(log.indexOf("a1 end"));
    expect(log.indexOf("b1 start")).toBeLessThan(log.indexOf("a1 end"));
    expect(lock.size).toBe(0);
  });

  it("releases the key when a task fails", async () => {
    const lock = new KeyedLock();
    await expect(lock.run("a", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(lock.run("a", () => Promise.resolve(1))).resolves.toBe(1);
    expect(lock.size).toBe(0);
  });
});
