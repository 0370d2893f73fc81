import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "**/node_modules/**",
      ".local/**",
      "coverage/**",
      "eslint.config.js",
      "scripts/**/*.mjs",
      ".pnpmfile.cjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-syntax": [
        "error",
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: "Read the environment only in a service's config.ts (or the testing package).",
        },
      ],
    },
  },
  {
    files: [
      "**/config.ts",
      "**/*-config.ts",
      "**/config/src/**",
      "packages/testing/**",
      "test/**",
      "**/*.test.ts",
      "*.config.ts",
      "bench/**",
    ],
    rules: { "no-restricted-syntax": "off" },
  },
);
