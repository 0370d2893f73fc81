import { readFile } from "node:fs/promises";
import type { Logger } from "@handoff-sync/telemetry";
import { assertUniqueNames, parseApiKeysEnv, parseApiKeysFile, type ApiKey, type KeyRing } from "./auth.js";

export interface KeySources {
  /** `HANDOFF_API_KEYS`. */
  readonly env?: string | undefined;
  /** `HANDOFF_API_KEYS_FILE`. */
  readonly file?: string | undefined;
}

/** The keys of both sources; throws ApiKeysError (naming the line, never a key) on a bad entry. */
export async function loadApiKeys(sources: KeySources): Promise<ApiKey[]> {
  const keys = [
    ...(sources.env === undefined ? [] : parseApiKeysEnv(sources.env)),
    ...(sources.file === undefined
      ? []
      : parseApiKeysFile(await readFile(sources.file, "utf8"), sources.file)),
  ];
  assertUniqueNames(keys);
  return keys;
}

export interface ReloadingKeyRing extends KeyRing {
  /** Reads the sources again; a bad file is refused and the keys in force stay. */
  reload(): Promise<"applied" | "unchanged" | "refused">;
  stop(): void;
}

const sameKeys = (a: readonly ApiKey[], b: readonly ApiKey[]): boolean =>
  a.length === b.length &&
  a.every(
    (key, i) =>
      key.name === b[i]?.name &&
      key.digest.equals(b[i].digest) &&
      key.scopes.join("+") === b[i].scopes.join("+"),
  );

/**
 * The API keys in force, read again on SIGHUP and every `intervalMs` (a mounted Secret changes
 * under a running pod): a removed key stops working, and its queue UI sessions end, without a
 * restart.
 */
export function createKeyRing(
  initial: readonly ApiKey[],
  sources: KeySources,
  settings: { readonly log: Logger; readonly intervalMs: number },
): ReloadingKeyRing {
  let keys = initial;
  let running: Promise<"applied" | "unchanged" | "refused"> | undefined;
  const reloadOnce = async (): Promise<"applied" | "unchanged" | "refused"> => {
    try {
      const next = await loadApiKeys(sources);
      if (sameKeys(keys, next)) return "unchanged";
      keys = next;
      settings.log.info({ keys: next.map((k) => k.name) }, "API keys reloaded");
      return "applied";
    } catch (error) {
      settings.log.error({ err: error }, "API keys reload refused; the keys in force stay");
      return "refused";
    }
  };
  const reload = (): Promise<"applied" | "unchanged" | "refused"> => {
    running ??= reloadOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  const onSignal = (): void => void reload();
  process.on("SIGHUP", onSignal);
  const timer = sources.file === undefined ? undefined : setInterval(onSignal, settings.intervalMs);
  timer?.unref();
  return {
    current: () => keys,
    reload,
    stop() {
      process.off("SIGHUP", onSignal);
      clearInterval(timer);
    },
  };
}
