/**
 * teskd: knowledge distillation for TensorFlow.js on Deno — TESKD ("Teacher Evolution via
 * Self-Knowledge Distillation") and the teacher→student methods it is compared with, on one
 * framework, with the CIFAR model zoo, pretrained PyTorch teachers, training, and analysis.
 *
 * This is the public API notebooks import; internals (kernels, file-format plumbing, parity
 * internals) stay in their modules.
 *
 * @example
 * ```ts
 * import { createExperiment, initBackend, loadTeacher, Trainer } from "teskd";
 * await initBackend();
 * const teacher = await loadTeacher("resnet32x4", "resnet32x4_best.pth");
 * const run = await createExperiment({ method: "kd", student: "resnet8x4", teacher });
 * await new Trainer(run.trainerOptions()).fit();
 * ```
 *
 * @module
 */

// Engines.
export {
  type BackendInfo,
  backendInfo,
  type BackendName,
  type BackendRequest,
  BackendUnavailableError,
  initBackend,
  type InitBackendOptions,
} from "./backend/mod.ts";
export {
  cpuTensorMemory,
  type FastCpuBackendInfo,
  registerFastCpuBackend,
  TensorMemoryError,
} from "./backend/cpu/mod.ts";
export {
  formatStepProfile,
  type KernelSummary,
  type KernelTiming,
  profileStep,
  type ProfileStepOptions,
  type StepProfile,
} from "./backend/profile.ts";

// Layers and modules (PyTorch semantics, official state_dict names).
export * from "./nn/mod.ts";

// Networks: the zoo behind one feature contract, TESKD's students.
export * from "./models/mod.ts";

// Distillation methods.
export * from "./distill/mod.ts";

// Loss terms.
export * from "./losses/mod.ts";
export { distillKL, mse, toolboxLoss, type ToolboxWeights } from "./losses/kd.ts";

// Training: config, runs, trainer, optimizer, schedules, checkpoints.
export * from "./train/config.ts";
export * from "./train/experiment.ts";
export * from "./train/trainer.ts";
export { type Accuracy, accuracy } from "./train/evaluate.ts";
export * from "./train/sgd.ts";
export * from "./train/schedule.ts";
export {
  type CheckpointInfo,
  exportDeployed,
  loadCheckpoint,
  type LoadCheckpointOptions,
  readCheckpointInfo,
  saveCheckpoint,
  type SaveCheckpointOptions,
} from "./train/checkpoint.ts";
export { loadStateDictFile, loadTorchStateDict, readTorchFile } from "./train/torch_pth.ts";
export { parseSafetensors, serializeSafetensorsToBytes } from "./train/safetensors.ts";
export { type RunOptions, runTraining, summarize, type TrainResults } from "./train/cli.ts";

// Sweeps: where the runs of a grid train (this machine, a Slurm job array) and who owns a run folder.
export type {
  LaunchContext,
  SchedulerRunState,
  SweepLauncher,
  SweepRun,
  SweepRunEvent,
} from "./sweep/launcher.ts";
export { localLauncher, type LocalLauncherOptions } from "./sweep/local.ts";
export { slurmBatchScript, slurmLauncher, type SlurmOptions } from "./sweep/slurm.ts";
export { readRunLock, RunLockedError, type RunLockInfo } from "./train/run_lock.ts";

// Data.
export * from "./data/mod.ts";

// Analysis: tables, figures, diagrams, progress views, ablations, paper tables.
export * from "./analysis/mod.ts";
export { JUPYTER_DISPLAY } from "./jupyter.ts";

// Widgets: two-way controls over the Jupyter widget protocol (ipywidgets 8's models); the protocol's
// pieces (trait builders, buffers, constants) are in the `widgets` namespace. `Layout` is the plotly
// layout type of the analysis; the widget layout is `WidgetLayout` (or `widgets.Layout`).
export {
  Box,
  type BoxProps,
  Button,
  type ButtonProps,
  ButtonStyle,
  type Change,
  Checkbox,
  type CheckboxProps,
  CheckboxStyle,
  DescriptionStyle,
  Dropdown,
  type DropdownOption,
  type DropdownOptions,
  type DropdownProps,
  FloatProgress,
  type FloatProgressProps,
  FloatSlider,
  type FloatSliderProps,
  FloatText,
  type FloatTextProps,
  HBox,
  HTML,
  type HTMLProps,
  HTMLStyle,
  Image,
  type ImageProps,
  IntProgress,
  type IntProgressProps,
  IntSlider,
  type IntSliderProps,
  Layout as WidgetLayout,
  type Observer,
  Output,
  type OutputItem,
  type OutputProps,
  ProgressStyle,
  SliderStyle,
  Text,
  type TextProps,
  TextStyle,
  VBox,
  Widget,
  widgetClass,
} from "./widgets/mod.ts";
export * as widgets from "./widgets/mod.ts";

// Parity with the official code.
export * as parity from "./parity/mod.ts";
