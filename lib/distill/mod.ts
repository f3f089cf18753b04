/**
 * Distillation methods on one framework: each method builds a {@link Distiller} from a student (and a
 * frozen teacher); the trainer, the CLI, checkpoints and the analysis only talk to that interface.
 *
 * @example
 * ```ts
 * import { buildDistiller, loadTeacher, resolveMethodConfig } from "teskd";
 * const teacher = await loadTeacher("resnet32x4", "resnet32x4_best.pth");
 * const distiller = buildDistiller(resolveMethodConfig({ name: "simkd", factor: 2 }), {
 *   student: createNetwork("resnet8x4", { numClasses: 100 }), teacher, inputSize: 32, seed: 0,
 * });
 * ```
 *
 * @module
 */
export type {
  DeployedNetwork,
  Distiller,
  FrozenOutputs,
  SecondStep,
  StepOutput,
  TensorBatch,
} from "./distiller.ts";
export type { BuildContext, Method, MethodConfigBase } from "./method.ts";
export { customDistiller, type CustomModel, type LossResult } from "./custom.ts";
export {
  buildDistiller,
  getMethod,
  METHOD_NAMES,
  type MethodConfig,
  type MethodName,
  METHODS,
  resolveMethodConfig,
} from "./registry.ts";
export { loadTeacher, type LoadTeacherOptions } from "./teacher.ts";
export { type BaselineConfig, BaselineDistiller } from "./baseline.ts";
export { type TeskdConfig, TeskdDistiller, teskdHeads } from "./teskd.ts";
export { type KdConfig, KdDistiller } from "./kd.ts";
export { ConvReg, type FitnetConfig, FitnetDistiller } from "./fitnet.ts";
export { type SimkdConfig, SimkdDistiller, SimkdProjector, SimkdStudent } from "./simkd.ts";
export { type AtConfig, AtDistiller } from "./at.ts";
export { type SpConfig, SpDistiller } from "./sp.ts";
export { type VidConfig, VidDistiller, VidRegressor } from "./vid.ts";
export { type CrdConfig, CrdCriterion, CrdDistiller } from "./crd.ts";
export { ContrastSampler } from "./crd_sampler.ts";
export { type SrrlConfig, SrrlDistiller, SrrlTransfer } from "./srrl.ts";
export { SemckdAttention, type SemckdConfig, SemckdDistiller } from "./semckd.ts";
export { type AtscConfig, AtscDistiller, MultiTeacherStudent, WeightAnchor } from "./atsc.ts";
export { DistillState, TeacherStudentDistiller } from "./teacher_student.ts";
