/**
 * Environment reads for the backend code, which must work without `--allow-env`.
 *
 * @module
 */

/** The variable `name`, or undefined when it is unset or env access is not permitted. */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}
