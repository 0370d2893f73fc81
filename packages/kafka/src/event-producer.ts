import { HandoffSyncError } from "@handoff-sync/schema";
import type { Logger } from "@handoff-sync/telemetry";
import type { Kafka, Producer } from "kafkajs";

/**
 * Kafka did not acknowledge a record in time: it may be down, or the record may still land later
 * (the idempotent producer keeps retrying it in the background). Retrying helps; the event id
 * makes a record that landed twice one event.
 */
export class ProduceUnavailableError extends HandoffSyncError {
  readonly retryable = true;

  static {
    this.prototype.name = "ProduceUnavailableError";
  }
}

export interface EventProducer {
  /** Resolves once every in-sync replica has the record; throws `ProduceUnavailableError` otherwise. */
  send(topic: string, key: string, value: string, headers?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export interface EventProducerSettings {
  readonly kafka: Kafka;
  readonly log: Logger;
  /** The longest a send (including connecting) may take before it is reported unavailable. */
  readonly timeoutMs: number;
}

/**
 * A durable producer: idempotent (one copy per record however often kafkajs retries it inside a
 * session), `acks: -1` (every in-sync replica), one request in flight so retries keep order. It
 * connects on first use and again after a failure, so a broker that comes back is used again
 * without restarting the service.
 */
export function createEventProducer(settings: EventProducerSettings): EventProducer {
  const log = settings.log.child({ component: "event-producer" });
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;

  const connected = (): Promise<Producer> => {
    if (producer !== undefined) return Promise.resolve(producer);
    connecting ??= (async () => {
      const created = settings.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Short: a request waits at most timeoutMs anyway, and the client retries after Retry-After.
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: Math.max(200, settings.timeoutMs / 2) },
      });
      try {
        await created.connect();
      } catch (error) {
        await created.disconnect().catch(() => undefined);
        throw error;
      }
      created.on(created.events.DISCONNECT, () => {
        if (producer === created) producer = undefined;
      });
      producer = created;
      return created;
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  const withTimeout = async <T>(work: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(new ProduceUnavailableError(`Kafka did not acknowledge within ${settings.timeoutMs} ms`)),
        settings.timeoutMs,
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async send(topic, key, value, headers = {}) {
      const attempt = (async () => {
        const ready = await connected();
        await ready.send({ topic, acks: -1, messages: [{ key, value, headers }] });
      })();
      try {
        await withTimeout(attempt);
      } catch (error) {
        // The losing attempt may still settle; its failure is this one, already reported.
        attempt.catch(() => undefined);
        const current = producer;
        if (current !== undefined && !(error instanceof ProduceUnavailableError)) {
          producer = undefined;
          void current.disconnect().catch(() => undefined);
        }
        log.warn(
          { topic, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) },
          "produce failed; the request is answered 503",
        );
        if (error instanceof ProduceUnavailableError) throw error;
        throw new ProduceUnavailableError(
          `Kafka refused the record: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    },
    async close() {
      const current = producer ?? (await connecting?.catch(() => undefined));
      producer = undefined;
      await current?.disconnect();
    },
  };
}
