import { defineProject } from "vitest/config"

// Only the bench's own helpers are tested here; the benchmark itself never runs under `pnpm test`.
export default defineProject({
  test: {
    include: ["test/**/*.test.ts"]
  }
})
