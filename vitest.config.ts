import { defineConfig } from "vitest/config"

// One project per package (and the examples); `pnpm test` runs them all. The Node executor's suite runs
// three times: through the fork server (the default where the exec helper is built), with a helper
// spawned per command (TETHER_FORK_SERVER=0, also the path for commands the server cannot start), and
// without the helper, the path every platform without a C compiler takes.
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
      },
      {
        extends: "./packages/platform-node/vitest.config.ts",
        test: {
          name: "@tether/platform-node (a helper per command)",
          root: "./packages/platform-node",
          env: { TETHER_FORK_SERVER: "0" }
        }
      }
    ]
  }
})
