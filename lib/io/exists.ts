/**
 * File-system predicates shared by the loaders and the command-line tools.
 *
 * @module
 */

/**
 * True when `path` exists; false only when it does not (any other error, e.g. permissions, is thrown).
 *
 * @example
 * ```ts
 * if (!(await exists("data/cifar-100-binary.tar.gz"))) console.log("not downloaded yet");
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
