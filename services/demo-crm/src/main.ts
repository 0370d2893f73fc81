import { createLogger, exitOnFatal, onShutdown } from "@handoff-sync/telemetry";
import { loadConfig } from "./config.js";
import { createReceiver } from "./receiver.js";

const config = loadConfig();
const log = createLogger({ level: config.LOG_LEVEL, service: "demo-crm" });
exitOnFatal(log);

// Deliveries go to stdout as plain lines, meant for a person watching the demo.
const receiver = createReceiver({
  secrets: config.DEMO_WEBHOOK_SECRET,
  log: (line) => process.stdout.write(`${line}\n`),
});
const port = await receiver.listen(config.PORT);
log.info({ port }, "demo-crm listening");
onShutdown(() => receiver.close(), { log, timeoutMs: 10_000 });
