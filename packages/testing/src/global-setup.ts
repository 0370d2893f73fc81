import type { TestProject } from "vitest/node";
import { provisionInfra } from "./provision.js";

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBrokers: string;
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const infra = await provisionInfra();
  console.log(
    `test infra: kafka=${infra.kafkaBrokers} (${infra.source.kafka}) redis=${infra.redisUrl} (${infra.source.redis})`,
  );
  project.provide("kafkaBrokers", infra.kafkaBrokers);
  project.provide("redisUrl", infra.redisUrl);
  return () => infra.teardown();
}
