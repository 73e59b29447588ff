import { defineConfig } from "vitest/config"

// One project per package (and the examples); `pnpm test` runs them all. The Node executor's suite runs
// twice: with the exec helper (the default where it is built) and without it, the path every platform
// without a C compiler takes.
export default defineConfig({
  test: {
    projects: [
      "packages/*",
      "examples",
      {
        extends: "./packages/platform-node/vitest.config.ts",
        test: {
          name: "@tether/platform-node (no exec helper)",
          root: "./packages/platform-node",
          env: { TETHER_EXEC_HELPER: "0" },
          exclude: ["test/helper*.test.ts", "**/node_modules/**"]
        }
      }
    ]
  }
})
