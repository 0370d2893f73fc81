// Writes docs/openapi.json from the built API (services/api/dist), so the committed document is
// exactly what GET /openapi.json serves. Run `pnpm build` first.
import { writeFile } from "node:fs/promises";
import { openApiDocument } from "../services/api/dist/openapi.js";

const target = new URL("../docs/openapi.json", import.meta.url);
await writeFile(target, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
