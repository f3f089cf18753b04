/**
 * `deno task bench <name> [args…]`: runs one benchmark. Each prints its figures as ratios against a
 * reference measured in the same run (PyTorch, the stock tfjs kernels, or the target), never as pass/fail.
 *
 * @module
 */

/** The benchmarks, loaded on demand so that each pulls in only what it measures. */
const BENCHMARKS: Record<string, { about: string; run: (args: string[]) => Promise<void> }> = {
  kernel: {
    about: "kernel start, cell round trip, incremental type check + run",
    run: async () => (await import("./kernel.ts")).benchKernel(),
  },
  cpu: {
    about:
      "baseline + full TESKD ms/step and teacher img/s vs PyTorch, GFLOP/s per conv (--batch128)",
    run: async (args) => (await import("./cpu.ts")).benchCpu(args),
  },
  gpu: {
    about:
      "webgpu baseline + full TESKD ms/step, img/s and a step profile vs PyTorch CUDA fp32/AMP",
    run: async (args) => (await import("./gpu.ts")).benchGpu(args),
  },
  kd: {
    about: "ResNet-32x4 → ResNet-8x4 training step of each KD method vs PyTorch, teacher share",
    run: async (args) => (await import("./kd.ts")).benchKd(args),
  },
  data: {
    about: "CIFAR augmentation images/s on all cores, data wait fraction during training",
    run: async (args) => (await import("./data.ts")).benchData(args),
  },
};

function usage(): string {
  const rows = Object.entries(BENCHMARKS).map(([name, b]) => `  ${name.padEnd(8)} ${b.about}`);
  return ["usage: deno task bench <name> [args…]", ...rows].join("\n");
}

if (import.meta.main) {
  const [name, ...args] = Deno.args;
  const bench = name ? BENCHMARKS[name] : undefined;
  if (!bench) {
    console.error(name ? `unknown benchmark "${name}"\n${usage()}` : usage());
    Deno.exit(2);
  }
  await bench.run(args);
}
