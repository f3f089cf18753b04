/**
 * The network zoo behind one feature contract ({@link Network}): the TESKD backbones (CIFAR /
 * ImageNet ResNets, SE-ResNets, VGG with BN) with TESKD's students, and the CIFAR models of the KD
 * toolboxes (CIFAR ResNets, WRN, VGG-BN, ShuffleNets, MobileNetV2), all by name from one registry.
 *
 * @module
 */
export * from "./network.ts";
export * from "./registry.ts";
export * from "./backbone.ts";
export * from "./resnet.ts";
export * from "./seresnet.ts";
export * from "./vgg.ts";
export * from "./cifar_resnet.ts";
export * from "./wrn.ts";
export * from "./vgg_bn.ts";
export * from "./shufflenetv1.ts";
export * from "./shufflenetv2.ts";
export * from "./mobilenetv2.ts";
export * from "./teskd.ts";
export * from "./zoo.ts";
export * from "./summary.ts";
