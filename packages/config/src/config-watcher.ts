import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { ConfigError, formatProblem } from "./config-error.js";
import { loadDestinationsFile, type LoadedConfig } from "./load-destinations.js";

/** The part of a pino logger the watcher uses; the logger is injected, never imported. */
export interface WatchLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface ConfigWatchSettings {
  /** Receives a valid new config. Applying it is the caller's job, and must not leave it half-applied. */
  readonly onChange: (config: LoadedConfig) => void | Promise<void>;
  /** A new config was refused (its problems are already logged); the current one stays in force. */
  readonly onInvalid?: (error: ConfigError) => void;
  readonly log: WatchLog;
  /** Editors and `kubectl` write a file in several steps; events closer than this make one reload. */
  readonly debounceMs?: number;
  /**
   * Subscribes to explicit reload requests and returns the unsubscribe. Defaults to SIGHUP; tests
   * inject their own so they need not signal the test runner.
   */
  readonly trigger?: (reload: () => void) => () => void;
}

export type ReloadResult = "applied" | "refused" | "unchanged" | "failed";

export interface ConfigWatcher {
  /** Reloads now, as SIGHUP does: the file is read again even when its text has not changed (secrets may have). */
  reload(): Promise<ReloadResult>;
  /** Stops watching; a reload in progress still finishes. */
  stop(): Promise<void>;
}

const sighup = (reload: () => void): (() => void) => {
  // A listener also stops Node's default for SIGHUP, which is to exit.
  const listener = (): void => reload();
  process.on("SIGHUP", listener);
  return () => process.off("SIGHUP", listener);
};

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Reloads the destinations file on SIGHUP and when it changes. The directory is watched, not the
 * file: editors replace a file by renaming over it, and Kubernetes updates a mounted ConfigMap by
 * swapping its `..data` symlink, and both end a watch on the file itself. A change event only
 * reloads when the text differs from the last one seen. Reloads run one at a time; an invalid
 * file is refused with every problem logged, and the caller keeps its current config.
 */
export function watchConfig(
  path: string,
  env: Readonly<Record<string, string | undefined>>,
  settings: ConfigWatchSettings,
): ConfigWatcher {
  const { log } = settings;
  const debounceMs = settings.debounceMs ?? 300;
  const name = basename(path);
  let lastText: string | undefined;
  const ready = readText(path).then((text) => {
    lastText = text;
  });
  let queue: Promise<unknown> = ready;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const attempt = async (force: boolean): Promise<ReloadResult> => {
    const text = await readText(path);
    if (!force && text === lastText) return "unchanged";
    lastText = text;
    let config: LoadedConfig;
    try {
      config = await loadDestinationsFile(path, env);
    } catch (error) {
      const refused =
        error instanceof ConfigError
          ? error
          : new ConfigError(
              [{ file: path, path: "", message: error instanceof Error ? error.message : String(error) }],
              { cause: error },
            );
      log.error(
        { file: path, problems: refused.problems.map(formatProblem) },
        "configuration reload refused; the current configuration stays in force",
      );
      settings.onInvalid?.(refused);
      return "refused";
    }
    try {
      await settings.onChange(config);
    } catch (error) {
      log.error({ file: path, err: error }, "configuration reload failed while applying");
      return "failed";
    }
    log.info({ file: path, trigger: force ? "signal" : "file" }, "configuration reloaded");
    return "applied";
  };

  const enqueue = (force: boolean): Promise<ReloadResult> => {
    const run = queue
      .then(() => attempt(force))
      .catch((error: unknown): ReloadResult => {
        log.error({ file: path, err: error }, "configuration reload failed");
        return "failed";
      });
    queue = run;
    return run;
  };

  const schedule = (): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void enqueue(false), debounceMs);
    timer.unref();
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
      // `..data` is the symlink Kubernetes swaps to update a ConfigMap volume.
      if (changed === null || changed === name || changed.startsWith("..")) schedule();
    });
    watcher.on("error", (error) =>
      log.warn({ file: path, err: error }, "watching the configuration file failed; SIGHUP still reloads"),
    );
  } catch (error) {
    log.warn({ file: path, err: error }, "cannot watch the configuration file; SIGHUP still reloads");
  }
  const unsubscribe = (settings.trigger ?? sighup)(() => {
    if (!stopped) void enqueue(true);
  });

  return {
    reload: () => enqueue(true),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      watcher?.close();
      unsubscribe();
      await queue;
    },
  };
}
