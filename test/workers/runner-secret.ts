/** The step runner's secret in the tests: shared by vitest.config.ts (Worker bindings) and global-setup.ts (the runner). */
export const TEST_RUNNER_SECRET = "test-runner-secret-0123456789abcdef";
