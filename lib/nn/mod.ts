/**
 * The module system and the layers (PyTorch semantics on tfjs, NHWC activations).
 *
 * @module
 */
export * from "./module.ts";
export * from "./init.ts";
export * from "./layer.ts";
export * from "./conv.ts";
export * from "./batchnorm.ts";
export * from "./linear.ts";
export * from "./pooling.ts";
export * from "./se.ts";
export * from "./container.ts";
export * from "./conv_transpose.ts";
export * from "./depthwise.ts";
export * from "./grouped_conv.ts";
export * from "./shuffle.ts";
export * from "./avg_pool.ts";
