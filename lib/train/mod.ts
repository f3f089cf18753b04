/**
 * Training: PyTorch-exact SGD, learning-rate schedules, the one-stage trainer with evaluation of every
 * head, safetensors checkpoints with the official names and layouts, and the headless CLI's pieces.
 *
 * @example
 * ```ts
 * import { createExperiment, resolveTrainConfig, Trainer } from "teskd";
 * const exp = await createExperiment(resolveTrainConfig({ dataset: "synthetic", epochs: 3 }));
 * const trainer = new Trainer({ ...exp.trainerOptions(), onEpoch: (r) => console.log(r.eval) });
 * await trainer.fit();
 * ```
 *
 * @module
 */
export * from "./sgd.ts";
export * from "./schedule.ts";
export * from "./safetensors.ts";
export * from "./atomic.ts";
export * from "./checkpoint.ts";
export * from "./trainer.ts";
export * from "./config.ts";
export * from "./experiment.ts";
export { main as trainCli, parseArgs as parseTrainArgs, runTraining, summarize } from "./cli.ts";
export type { RunOptions, TrainResults } from "./cli.ts";
