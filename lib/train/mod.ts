/**
 * Training: the run config, experiments, the trainer, SGD, schedules, checkpoints and file formats.
 *
 * @example
 * ```ts
 * import { createExperiment, Trainer } from "teskd";
 * const run = await createExperiment({ data: { dataset: "synthetic" }, schedule: { epochs: 3 } });
 * const trainer = new Trainer({ ...run.trainerOptions(), onEpoch: (r) => console.log(r.eval) });
 * await trainer.fit();
 * ```
 *
 * @module
 */
export * from "./sgd.ts";
export * from "./schedule.ts";
export * from "./safetensors.ts";
export * from "./torch_pth.ts";
export * from "./atomic.ts";
export * from "./checkpoint.ts";
export * from "./trainer.ts";
export * from "./evaluate.ts";
export * from "./config.ts";
export * from "./experiment.ts";
export { main as trainCli, parseArgs as parseTrainArgs, runTraining, summarize } from "./cli.ts";
export type { RunOptions, TrainResults } from "./cli.ts";
