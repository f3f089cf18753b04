/**
 * The kernel's interrupt, honoured between kernels: a training step is one long synchronous call
 * (about 10 s at full width on a CPU) that the cell compiler cannot instrument, so the engines ask
 * the kernel's interrupt check (shared memory; see lib/jupyter.ts) before every kernel. A step so
 * interrupted throws before its update, so it is applied whole or not at all. Headless, there is
 * no check and this costs one property read per kernel.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { kernelInterruptCheck } from "../jupyter.ts";

let suspended = 0;

/** Throws the kernel's interrupt error when the user interrupted the running cell. */
export function checkInterrupt(): void {
  if (suspended === 0) kernelInterruptCheck()?.();
}

/**
 * Runs `f` with the check off: what must happen whole once begun (an optimizer update over every
 * parameter, putting state back after a failed step, recording the steps already applied) runs its
 * kernels to the end.
 */
export function withoutInterruptChecks<T>(f: () => T): T {
  suspended++;
  let async = false;
  try {
    const r = f();
    if (r instanceof Promise) {
      async = true;
      return r.finally(() => suspended--) as T;
    }
    return r;
  } finally {
    if (!async) suspended--;
  }
}

const wrapped = new Set<string>();

/** Makes every kernel of `backend` registered so far ask the check first (idempotent). */
export function checkKernelsOf(backend: string): void {
  if (wrapped.has(backend)) return;
  wrapped.add(backend);
  for (const k of tf.getKernelsForBackend(backend)) {
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel(checkedKernel(k));
  }
}

/** A kernel that asks the interrupt check first. */
function checkedKernel(config: tf.KernelConfig): tf.KernelConfig {
  const run = config.kernelFunc;
  return {
    ...config,
    kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
      checkInterrupt();
      return run(args);
    }) as tf.KernelFunc,
  };
}
