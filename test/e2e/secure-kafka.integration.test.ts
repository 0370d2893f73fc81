import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kafkaConnectionOptions, KafkaEnvSchema, parseEnv } from "@handoff-sync/config";
// The root workspace does not link @handoff-sync/kafka (yet), so the client module is imported by path.
import { createKafkaClient } from "@handoff-sync/kafka";
import { createLogger } from "@handoff-sync/telemetry";
import {
  createTestPki,
  startSecureKafka,
  uniqueName,
  type SecureKafka,
  type TestPki,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const log = createLogger({ level: "silent", service: "test" });
const ALICE = { name: "alice", password: "alice-secret" };

describe("Kafka over SASL_SSL, configured from the environment as the services are", () => {
  let dir = "";
  let pki: TestPki;
  let kafka: SecureKafka;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hs-secure-kafka-"));
    pki = await createTestPki(dir);
    kafka = await startSecureKafka({
      dir,
      pki,
      plainUsers: { [ALICE.name]: ALICE.password },
      scramUsers: { [ALICE.name]: ALICE.password },
    });
  });
  afterAll(async () => {
    await kafka?.stop();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  /** What consumer/main.ts does: parse the environment, build the TLS and SASL options, create the client. */
  async function clientFor(mechanism: string, password: string) {
    const passwordFile = join(dir, `${uniqueName("password")}`);
    await writeFile(passwordFile, `${password}\n`);
    const env = parseEnv(KafkaEnvSchema, {
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_SSL: "true",
      KAFKA_SSL_CA_FILE: pki.caFile,
      KAFKA_SASL_MECHANISM: mechanism,
      KAFKA_SASL_USERNAME: ALICE.name,
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
    });
    return createKafkaClient({
      brokers: env.KAFKA_BROKERS,
      clientId: env.KAFKA_CLIENT_ID,
      log,
      ...(await kafkaConnectionOptions(env)),
    });
  }

  for (const mechanism of ["plain", "scram-sha-512"]) {
    it(`${mechanism}: produces and consumes over TLS`, async () => {
      const client = await clientFor(mechanism, ALICE.password);
      const topic = uniqueName(`secure-${mechanism}`);
      const admin = client.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await admin.disconnect();

      const producer = client.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ key: "k", value: `hello over ${mechanism}` }] });
      await producer.disconnect();

      const consumer = client.consumer({
        groupId: uniqueName("secure-group"),
        sessionTimeout: 6000,
        heartbeatInterval: 1000,
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no message within 20 s")), 20_000);
        void consumer
          .run({
            eachMessage: ({ message }) => {
              clearTimeout(timer);
              resolve(message.value?.toString("utf8") ?? "");
              return Promise.resolve();
            },
          })
          .catch(reject);
      });
      await consumer.disconnect();
      expect(received).toBe(`hello over ${mechanism}`);
    });

    it(`${mechanism}: a wrong password is refused`, async () => {
      const client = await clientFor(mechanism, "not-the-password");
      const admin = client.admin();
      const error = await admin.connect().then(
        () => undefined,
        (e: unknown) => e,
      );
      await admin.disconnect().catch(() => undefined);
      expect(error).toBeInstanceOf(Error);
      expect(error instanceof Error ? `${error.name}: ${error.message}` : "").toMatch(
        /SASL|[Aa]uthentication/,
      );
    });
  }
});
