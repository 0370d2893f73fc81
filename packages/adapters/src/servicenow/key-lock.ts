/**
 * An async mutex per key: `run(key, task)` starts `task` once every earlier task for that key has
 * settled. Keys with nothing queued take no memory.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      // Only the last waiter removes the entry; a later one has replaced the tail otherwise.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a task running or waiting; for tests. */
  get size(): number {
    return this.tails.size;
  }
}
