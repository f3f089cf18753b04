/**
 * Where the teskd-cpu kernel source and its committed binaries live (kept apart from build.ts so
 * that loading the backend never loads the AssemblyScript compiler).
 *
 * @module
 */

/** Kernel variants: relaxed SIMD (fused multiply-add) and plain SIMD for runtimes without it. */
export type Variant = "relaxed" | "simd";

/** Paths of the committed kernel binaries. */
export const WASM_URLS: Readonly<Record<Variant, URL>> = {
  relaxed: new URL("./kernels.wasm", import.meta.url),
  simd: new URL("./kernels-simd.wasm", import.meta.url),
};

/** Path of the AssemblyScript kernel source. */
export const SOURCE_URL: URL = new URL("./asm/kernels.as", import.meta.url);
