// Lint is part of `npm test`: type-aware rules catch floating promises, which in a process that
// supervises untrusted code would mean an unnoticed failure.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // Workspace fixtures are sample user projects (CommonJS, jest globals), run by their own test runners.
  { ignores: ["dist/**", "node_modules/**", ".tools/**", ".venv/**", "trainer/**", "out/**", "models/**", "test-results/**", "test/fixtures/**", "test/e2e/fixtures/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", name: ["test", "it", "describe", "suite", "before", "after", "beforeEach", "afterEach"], package: "node:test" },
          ],
        },
      ],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    files: ["media/**/*.js"],
    languageOptions: { sourceType: "script", globals: { window: "readonly", document: "readonly" } },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
);
