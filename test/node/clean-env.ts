// vitest.config.ts sets the Worker's required secrets in the environment for the vitest plugin,
// and quiets wrangler's info lines; this project's processes inherit both. Gone here, `npm run
// dev` starts as a new user's does (a generated JWT_SECRET, wrangler's usual output) and nothing
// else started by a test sees the tests' secrets.
Reflect.deleteProperty(process.env, "JWT_SECRET");
Reflect.deleteProperty(process.env, "RUNNER_SECRET");
Reflect.deleteProperty(process.env, "WRANGLER_LOG");
