import { readFile } from "node:fs/promises";
import type { ConfigProblem } from "./config-error.js";

/**
 * Reads the files named by environment variables, collecting a problem per unreadable file instead
 * of stopping at the first, so startup lists them all. The error names the variable and the path,
 * never the content.
 */
export function createFileReader(
  problems: ConfigProblem[],
): (variable: string, path: string) => Promise<string | undefined> {
  return async (variable, path) => {
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      const code = error instanceof Error && "code" in error ? String(error.code) : "unreadable";
      problems.push({ path: variable, message: `cannot read ${path} (${code})` });
      return undefined;
    }
  };
}

/** Secret files written by `echo` or editors end in a newline that is not part of the secret. */
export function secretFromFile(content: string): string {
  return content.replace(/\r?\n$/, "");
}
