/**
 * The one Deno version this project runs on. README, `.ci/run`, the tasks and the kernel spec all use it;
 * `test/foundation/pin_test.ts` checks that they agree.
 *
 * @module
 */

/** The exact Deno release the project is pinned to (run as `npx -y deno@2.9.6 …`). */
export const DENO_VERSION = "2.9.6";
