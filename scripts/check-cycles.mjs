// Fails when any import cycle exists, within a package or between packages.
import { parseDependencyTree, parseCircular, prettyCircular } from "dpdm";
import { readdirSync, existsSync } from "node:fs";

const entries = [];
for (const dir of ["packages", "services"]) {
  for (const name of readdirSync(dir)) {
    for (const file of ["src/index.ts", "src/main.ts"]) {
      if (existsSync(`${dir}/${name}/${file}`)) entries.push(`${dir}/${name}/${file}`);
    }
  }
}
const tree = await parseDependencyTree(entries, {
  context: process.cwd(),
  transform: true,
  skipDynamicImports: false,
});
const cycles = parseCircular(tree);
if (cycles.length > 0) {
  console.error(`import cycles found:\n${prettyCircular(cycles)}`);
  process.exit(1);
}
console.log(`no import cycles in ${Object.keys(tree).length} modules`);
