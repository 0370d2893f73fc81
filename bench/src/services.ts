import { freePort, SERVICE_NODE_OPTIONS, startService, type RunningService } from "@handoff-sync/testing";

/**
 * Starts a service as the tests do (its production entry point and heap settings), on a free port;
 * with a profile directory, under Node's CPU profiler writing `<profileName>.cpuprofile` there.
 */
export async function startBenchService(
  name: "consumer" | "worker",
  env: Readonly<Record<string, string>>,
  profile: { readonly dir?: string | undefined; readonly name: string },
): Promise<RunningService> {
  const profiling =
    profile.dir === undefined
      ? {}
      : {
          NODE_OPTIONS: `${SERVICE_NODE_OPTIONS} --cpu-prof --cpu-prof-dir=${profile.dir} --cpu-prof-name=${profile.name}.cpuprofile`,
        };
  return startService(name, { ...env, ...profiling }, { port: await freePort() });
}
