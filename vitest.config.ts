import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000, // end-to-end tests start real processes; a full suite on two cores slows them
    hookTimeout: 60_000,
    // A test that asserts nothing fails: one whose expect() sits in a callback that never ran
    // would otherwise pass. Assertions of other libraries (node:assert, Fedify's suites) do not count.
    expect: { requireAssertions: true },
  },
});
