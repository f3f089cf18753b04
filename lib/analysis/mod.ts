/**
 * Analysis in notebooks: Plotly figures, Arquero tables, an SVG architecture diagram and a live
 * training view, ablation grids (`runAblation`, `meanStd`, `pivot`, `barByFactor`) and their
 * at-a-glance views (`sweepResults`, `groupedCurves`, `parallelCoordinates`), the paper's
 * table beside measured runs (`paperTable`) and the KD methods' published tables with their
 * protocols (`kdPaperTable`), and interactive controls as widgets (the progress view's Stop and
 * learning-rate controls, `ablationExplorer`) — all rendered through the display protocol
 * (`[Symbol.for("Jupyter.display")]()` returning a MIME bundle); nothing here imports kernel code.
 *
 * @example
 * ```ts
 * import { accuracyCurves, historyTable, ProgressView, teskdDiagram } from "teskd";
 * const view = new ProgressView({ epochs: 10 });
 * // new Trainer({ ..., onStep: view.onStep, onEpoch: view.onEpoch })
 * ```
 *
 * @module
 */
export * from "./display.ts";
export * from "./plotly.ts";
export * from "./figure.ts";
export * from "./figures.ts";
export * from "./table.ts";
export * from "./sparkline.ts";
export * from "./diagram.ts";
export * from "./progress.ts";
export * from "./progress_controls.ts";
export * from "./ablation.ts";
export * from "./ablation_explorer.ts";
export * from "./sweep_views.ts";
export * from "./paper.ts";
export * from "./kd_paper.ts";
