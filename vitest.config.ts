import { defineConfig } from "vitest/config";

// Sources resolve through the "@handoff-sync/source" export condition, so tests run against
// TypeScript directly while services run the built JavaScript.
const conditions = ["@handoff-sync/source", "node", "import", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: [
            "{packages,services}/*/src/**/*.test.ts",
            "bench/src/**/*.test.ts",
            "test/unit/**/*.test.ts",
            "test/chaos/**/*.test.ts",
          ],
          exclude: ["**/*.integration.test.ts", "**/node_modules/**", "**/dist/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: [
            "{packages,services}/*/src/**/*.integration.test.ts",
            "test/e2e/**/*.integration.test.ts",
          ],
          exclude: ["**/node_modules/**", "**/dist/**"],
          globalSetup: ["packages/testing/src/global-setup.ts"],
          testTimeout: 90_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: "chaos",
          include: ["test/chaos/**/*.integration.test.ts"],
          globalSetup: ["packages/testing/src/global-setup.ts"],
          testTimeout: 600_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
