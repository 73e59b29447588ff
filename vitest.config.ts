import { defineConfig } from "vitest/config"

// One project per package (and the examples); `pnpm test` runs them all.
export default defineConfig({
  test: {
    projects: ["packages/*", "examples"]
  }
})
