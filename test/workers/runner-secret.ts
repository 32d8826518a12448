/**
 * The Worker's required secrets in the tests: vitest.config.ts hands them to the Worker, and
 * global-setup.ts gives the runner's to the step runner.
 */
export const TEST_RUNNER_SECRET = "test-runner-secret-0123456789abcdef";
export const TEST_JWT_SECRET = "test-only-secret-0123456789abcdef0123456789";
