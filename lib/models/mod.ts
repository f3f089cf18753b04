/**
 * The network zoo (CIFAR / ImageNet ResNets, SE-ResNets, VGG with BN) and the TESKD students.
 *
 * @module
 */
export * from "./backbone.ts";
export * from "./resnet.ts";
export * from "./seresnet.ts";
export * from "./vgg.ts";
export * from "./teskd.ts";
export * from "./zoo.ts";
export * from "./summary.ts";
