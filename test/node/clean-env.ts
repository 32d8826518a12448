// vitest.config.ts sets the Worker's required secrets in the environment for the vitest plugin;
// this project's processes inherit them. Gone here, `npm run dev` starts as a new user's does
// (a generated JWT_SECRET) and nothing else started by a test sees the tests' secrets.
Reflect.deleteProperty(process.env, "JWT_SECRET");
Reflect.deleteProperty(process.env, "RUNNER_SECRET");
