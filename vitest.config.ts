import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000, // end-to-end tests start real processes; a full suite on two cores slows them
    hookTimeout: 60_000,
  },
});
