import type { BackoffPolicy, DeliveryJob } from "@handoff-sync/schema";
import { Queue } from "bullmq";
import type { RedisClient } from "@handoff-sync/store";
import { createDestinationState, type DestinationState } from "./destination-state.js";
import { DELIVERY_JOB_NAME, deliveryJobOptions } from "./job-options.js";
import { destinationQueueNames } from "./names.js";

export interface DestinationQueue {
  readonly destination: string;
  readonly policy: BackoffPolicy;
  readonly deliver: Queue;
  readonly dead: Queue;
  readonly state: DestinationState;
}

export interface DeliveryQueues {
  get(destination: string): DestinationQueue;
  all(): DestinationQueue[];
  enqueue(destination: string, job: DeliveryJob): Promise<void>;
  /**
   * Several jobs of one destination in one round trip (`addBulk`, one pipeline on the queue's own
   * keys, so single-slot under Redis Cluster), with the same options, job ids and deduplication as
   * `enqueue`. Jobs naming the same handoff fold as BullMQ's deduplication folds them; callers send
   * at most one per handoff (`newestJobs`).
   */
  enqueueBulk(destination: string, jobs: readonly DeliveryJob[]): Promise<void>;
  /**
   * Applies a reloaded destination set: new destinations get queues, existing ones take their new
   * retry policy. Queues of removed destinations stay open until `close`: a record being ingested
   * under the old config may still enqueue to them, and their waiting jobs stay inspectable.
   */
  configure(destinations: Readonly<Record<string, BackoffPolicy>>): void;
  close(): Promise<void>;
}

export interface DeliveryQueuesSettings {
  readonly connection: RedisClient;
  /**
   * Where the destinations' state (park record, failure streaks) is read and written; `connection`
   * when absent. The worker passes its store's auto-pipelined connection: the success mark that
   * follows every delivery then leaves in the same write as the ledger script beside it, not in a
   * round trip of its own on BullMQ's connection.
   */
  readonly stateConnection?: RedisClient;
  readonly prefix: string;
  readonly destinations: Readonly<Record<string, BackoffPolicy>>;
  /**
   * A queue re-emits its connection's errors; the services log those once, on the connection. Without
   * a listener BullMQ prints them with `console.error`, command arguments (passwords, snapshots) and all.
   */
  readonly onError?: (error: Error) => void;
}

export class UnknownDestinationError extends Error {
  override readonly name = "UnknownDestinationError";
  readonly retryable = false;
}

export function createDeliveryQueues(settings: DeliveryQueuesSettings): DeliveryQueues {
  const queues = new Map<string, DestinationQueue>();
  const configure = (destinations: Readonly<Record<string, BackoffPolicy>>): void => {
    for (const [destination, policy] of Object.entries(destinations)) {
      const existing = queues.get(destination);
      if (existing) {
        // A new object, not a mutation: a worker created under the old policy keeps it until it closes.
        queues.set(destination, { ...existing, policy });
        continue;
      }
      const names = destinationQueueNames(settings.prefix, destination);
      const deliver = new Queue(names.deliver, { connection: settings.connection, prefix: names.prefix });
      const dead = new Queue(names.dead, { connection: settings.connection, prefix: names.prefix });
      for (const queue of [deliver, dead]) queue.on("error", settings.onError ?? (() => undefined));
      queues.set(destination, {
        destination,
        policy,
        deliver,
        dead,
        state: createDestinationState(
          settings.stateConnection ?? settings.connection,
          settings.prefix,
          destination,
        ),
      });
    }
  };
  configure(settings.destinations);
  const get = (destination: string): DestinationQueue => {
    const queue = queues.get(destination);
    if (!queue) throw new UnknownDestinationError(`no queue for destination ${destination}`);
    return queue;
  };
  return {
    get,
    all: () => [...queues.values()],
    async enqueue(destination, job) {
      const queue = get(destination);
      await queue.deliver.add(DELIVERY_JOB_NAME, job, deliveryJobOptions(job, queue.policy));
    },
    async enqueueBulk(destination, jobs) {
      if (jobs.length === 0) return;
      const queue = get(destination);
      await queue.deliver.addBulk(
        jobs.map((job) => ({
          name: DELIVERY_JOB_NAME,
          data: job,
          opts: deliveryJobOptions(job, queue.policy),
        })),
      );
    },
    configure,
    async close() {
      await Promise.all([...queues.values()].flatMap((q) => [q.deliver.close(), q.dead.close()]));
    },
  };
}
