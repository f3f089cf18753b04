/**
 * Reproducible build of the teskd-cpu WebAssembly kernels from `asm/kernels.as` (AssemblyScript).
 *
 * Run `deno run -A lib/backend/cpu/build.ts` after editing the kernel source; it rewrites
 * `kernels.wasm` (relaxed SIMD) and `kernels-simd.wasm` (plain SIMD) next to this file. The
 * compiler is the pinned npm `assemblyscript`, so no system toolchain is involved and the output is
 * byte-for-byte deterministic (test/backend/cpu_build_test.ts checks the committed binaries).
 *
 * @module
 */
import asc from "assemblyscript/asc";
import { SOURCE_URL, type Variant, WASM_URLS } from "./artifacts.ts";

export { SOURCE_URL, type Variant, WASM_URLS };

/** Compiler flags; part of the build's identity (a change here must be followed by a rebuild). */
export const ASC_FLAGS: readonly string[] = [
  "--enable",
  "simd",
  "--enable",
  "threads",
  "-O3",
  "--runtime",
  "stub",
  "--noAssert",
  "--importMemory",
  "--sharedMemory",
  "--initialMemory",
  "16",
  "--maximumMemory",
  "32768",
  "--use",
  "abort=",
];

const MADD_RELAXED = "return f32x4.relaxed_madd(a, b, c); // MADD";
const MADD_PLAIN = "return f32x4.add(f32x4.mul(a, b), c); // MADD";

/**
 * Compiles AssemblyScript `source` text with {@link ASC_FLAGS} into the given variant's wasm bytes.
 *
 * @example
 * ```ts
 * const bytes = await compileKernels(await Deno.readTextFile(SOURCE_URL), "relaxed");
 * ```
 */
export async function compileKernels(source: string, variant: Variant): Promise<Uint8Array> {
  let flags = [...ASC_FLAGS];
  if (variant === "relaxed") flags = ["--enable", "relaxed-simd", ...flags];
  else if (source.includes(MADD_RELAXED)) source = source.replace(MADD_RELAXED, MADD_PLAIN);
  else if (source.includes("relaxed_")) {
    throw new Error("plain-SIMD kernel build: the source uses relaxed SIMD outside the MADD line");
  }
  // asc resolves entry files by appending ".ts"; the source keeps a ".as" extension so that Deno's
  // type checker never sees AssemblyScript-only types, and is fed to asc from memory instead.
  let binary: Uint8Array | null = null;
  const errors: string[] = [];
  const result = await asc.main(["kernels.ts", ...flags, "-o", "kernels.wasm"], {
    readFile: (name: string) => (name === "kernels.ts" ? source : null),
    writeFile: (name: string, contents: Uint8Array | string) => {
      if (name === "kernels.wasm" && typeof contents !== "string") binary = contents;
    },
    listFiles: () => [],
    stdout: { write: () => true } as never,
    stderr: {
      write: (chunk: string | Uint8Array) => {
        errors.push(typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
        return true;
      },
    } as never,
  });
  if (result.error) {
    throw new Error(`AssemblyScript build of the teskd-cpu kernels failed: ${errors.join("")}`);
  }
  if (binary === null) throw new Error("AssemblyScript build produced no kernels.wasm");
  return binary;
}

if (import.meta.main) {
  const source = await Deno.readTextFile(SOURCE_URL);
  for (const variant of ["relaxed", "simd"] as const) {
    const bytes = await compileKernels(source, variant);
    await Deno.writeFile(WASM_URLS[variant], bytes);
    console.log(`wrote ${WASM_URLS[variant].pathname} (${bytes.length} bytes)`);
  }
}
