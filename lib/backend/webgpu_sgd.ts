/**
 * The fused SGD-with-momentum update (fused_sgd.ts) on WebGPU: two GPU programs per parameter (the
 * new momentum buffer, the new parameter) instead of the eight elementwise programs of the
 * composite update; a GPU spends a step of many small programs on dispatch, not arithmetic.
 *
 * It also takes the trainer's device-side guard: an optional scalar input `ok` (1 or 0). With 0
 * the parameter and buffer come back unchanged (a first step's missing buffer as zeros), so that a
 * step whose loss or gradient is not finite is never applied, without reading anything back.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpu_util } from "@tensorflow/tfjs-backend-webgpu";
import { SGD_MOMENTUM_KERNEL, type SgdMomentumAttrs } from "./fused_sgd.ts";

interface WebGpuBackendLike {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

/** Which output a program computes. */
type Output = "buf" | "param";

/** One flat elementwise program over param, grad (and buf, ok). */
class SgdProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly uniforms = "lr : f32, momentum : f32, keep : f32, wd : f32,";
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    shape: number[],
    readonly output: Output,
    readonly first: boolean,
    readonly guarded: boolean,
    readonly nesterov: boolean,
  ) {
    this.outputShape = shape;
    this.variableNames = ["P", "G", ...(first ? [] : ["B"]), ...(guarded ? ["OK"] : [])];
    this.dispatchLayout = webgpu_util.flatDispatchLayout(this.outputShape);
    this.dispatch = webgpu_util.computeDispatch(
      this.dispatchLayout,
      this.outputShape,
      this.workgroupSize,
    );
    this.shaderKey = `teskdSgd_${output}_${first}_${guarded}_${nesterov}`;
  }

  getUserCode(): string {
    const buf = this.first ? "g" : "uniforms.momentum * f32(B[index]) + uniforms.keep * g";
    const kept = this.output === "buf" ? (this.first ? "0.0" : "f32(B[index])") : "p";
    const value = this.output === "buf"
      ? "b"
      : `p - uniforms.lr * ${this.nesterov ? "(g + uniforms.momentum * b)" : "b"}`;
    const result = this.guarded ? `select(${kept}, ${value}, f32(OK[0]) != 0.0)` : value;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let p = f32(P[index]);
          let g = f32(G[index]) + uniforms.wd * p;
          let b = ${buf};
          setOutputAtIndex(index, ${result});
        }
      }
    `;
  }
}

let registered = false;

/** Registers the fused SGD kernel for the webgpu backend (idempotent). */
export function registerWebGpuSgd(): void {
  if (registered) return;
  const kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    const backend = args.backend as unknown as WebGpuBackendLike;
    const { param, grad, buf, ok } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const a = args.attrs as unknown as SgdMomentumAttrs;
    const inputs = [param!, grad!, ...(buf ? [buf] : []), ...(ok ? [ok] : [])];
    const uniforms = [
      { type: "float32", data: [a.lr] },
      { type: "float32", data: [a.momentum] },
      { type: "float32", data: [1 - a.dampening] },
      { type: "float32", data: [a.weightDecay] },
    ];
    const run = (output: Output) =>
      backend.runWebGPUProgram(
        new SgdProgram(param!.shape, output, buf === undefined, ok !== undefined, a.nesterov),
        inputs,
        "float32",
        uniforms,
      );
    const newBuf = run("buf");
    return [run("param"), newBuf];
  }) as tf.KernelFunc;
  tf.registerKernel({ kernelName: SGD_MOMENTUM_KERNEL, backendName: "webgpu", kernelFunc });
  registered = true;
}
