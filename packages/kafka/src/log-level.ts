import { createRequire } from "node:module";
import { z } from "zod";

export type BridgedLevel = "error" | "warn" | "info" | "debug";

/** kafkajs' own table of broker error codes; its `retriable` flag is what its retry loops obey. */
const protocolErrorTable = z.array(
  z.object({ type: z.string(), message: z.string(), retriable: z.boolean() }),
);

function retriableProtocolMessages(): ReadonlySet<string> {
  const { errorCodes } = z
    .object({ errorCodes: protocolErrorTable })
    .parse(createRequire(import.meta.url)("kafkajs/src/protocol/error.js"));
  return new Set(errorCodes.filter((e) => e.retriable).map((e) => e.message));
}

/** The broker answers kafkajs retries by itself: a coordinator loading, a leader moving. */
export const RETRIABLE_PROTOCOL_MESSAGES = retriableProtocolMessages();

export interface KafkajsLogLine {
  readonly namespace: string;
  readonly message: unknown;
  readonly error: unknown;
}

/**
 * The level a kafkajs log line gets in the services' log. kafkajs logs every failed broker
 * response at error level, also the ones it then retries: on a fresh broker the first consumer
 * group always finds its coordinator loading, so a healthy start would log errors an SRE learns
 * to ignore. A retriable broker answer is logged at info; when the retries run out, the failure
 * reaches the services' code (a consumer crash, a failed send), which logs it at error.
 * A rebalance is how a group works, not a fault.
 */
export function bridgedLevel(level: BridgedLevel, line: KafkajsLogLine): BridgedLevel {
  if (level !== "error" && level !== "warn") return level;
  // kafkajs restarts the consumer after a crash on a retriable broker answer (a coordinator still
  // loading outlasts its retries on a fresh or busy broker): the crash line names the answer, and
  // the restart line that follows every restartable crash says nothing an SRE acts on. A crash on
  // anything else keeps its level, and the service logs it too (`consumer crashed`).
  if (line.namespace === "Consumer" && typeof line.message === "string") {
    if (line.message.startsWith("Restarting the consumer in ")) return "info";
    const crashed = /^Crash: KafkaJSProtocolError: (.*)$/s.exec(line.message)?.[1];
    if (crashed !== undefined && RETRIABLE_PROTOCOL_MESSAGES.has(crashed)) return "info";
  }
  const isResponse =
    line.namespace === "Connection" &&
    typeof line.message === "string" &&
    line.message.startsWith("Response ");
  if (isResponse && typeof line.error === "string" && RETRIABLE_PROTOCOL_MESSAGES.has(line.error))
    return "info";
  if (level === "warn" && line.message === "The group is rebalancing, re-joining") return "info";
  return level;
}

/**
 * The level of the services' own `consumer crashed` line: info when kafkajs restarts the consumer
 * after a retriable broker answer, error otherwise (a restart that will not come, or a crash on a
 * connection or an unknown error, which an SRE should see).
 */
export function crashLevel(error: unknown, restart: boolean): "info" | "error" {
  const retriableAnswer =
    error instanceof Error &&
    error.name === "KafkaJSProtocolError" &&
    RETRIABLE_PROTOCOL_MESSAGES.has(error.message);
  return restart && retriableAnswer ? "info" : "error";
}
