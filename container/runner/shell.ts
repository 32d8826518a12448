import { existsSync } from "node:fs";

/**
 * The image sets SHELL=/bin/bash (container/Dockerfile); a runner started locally (`npm run dev`,
 * the tests) gets the same, so steps behave alike whatever the developer's login shell is.
 */
export const IMAGE_SHELL = existsSync("/bin/bash") ? "/bin/bash" : "sh";
