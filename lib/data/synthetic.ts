/**
 * Generated CIFAR-shaped data sets: 32×32 RGB images whose class fixes a shape, a texture, a colour and
 * a home position; each sample jitters these and adds noise and clutter in proportion to
 * `difficulty`. Easy sets are separable even by a nearest-centroid classifier; hard ones need
 * translation-invariant features, so network capacity shows. Deterministic by seed.
 *
 * @module
 */
import { hash4, SampleRandom } from "./rng.ts";
import type { ImageSet } from "./types.ts";

/** Options of {@linkcode generateSynthetic}. */
export interface SyntheticOptions {
  /** Number of classes (1..1000). */
  numClasses: number;
  /** Number of images; labels are balanced (`label = index % numClasses`). */
  samples: number;
  /** 0 (clean, centred, fixed colours) .. 1 (large jitter, heavy noise, distractors). Default 0.3. */
  difficulty?: number;
  /** Seed of the samples; the same options and seed give the same bytes. Default 0. */
  seed?: number;
  /**
   * Seed of the class definitions (colours, home positions). Train and test sets of one task share
   * it while their `seed`s differ. Default 0.
   */
  classSeed?: number;
  /** Image side. Default 32. */
  size?: number;
}

/** Shapes, as tests on coordinates in units of the shape's radius. */
const SHAPES: ((u: number, v: number) => boolean)[] = [
  (u, v) => u * u + v * v <= 1, // disc
  (u, v) => Math.max(Math.abs(u), Math.abs(v)) <= 0.8, // square
  (u, v) => v <= 0.8 && v >= -0.9 && Math.abs(u) <= (v + 0.9) * 0.6, // triangle
  (u, v) => u * u + v * v <= 1 && u * u + v * v >= 0.3, // ring
  (u, v) => (Math.abs(u) < 0.3 && Math.abs(v) <= 1) || (Math.abs(v) < 0.3 && Math.abs(u) <= 1), // cross
  (u, v) => Math.abs(u) + Math.abs(v) <= 1, // diamond
  (u, v) => Math.abs(u) <= 1 && Math.abs(v) <= 0.35, // horizontal bar
  (u, v) => Math.abs(u) <= 0.35 && Math.abs(v) <= 1, // vertical bar
];

/** Textures: brightness factor at pixel (x, y). */
const TEXTURES: ((x: number, y: number) => number)[] = [
  () => 1,
  (_x, y) => (y >> 1) % 2 ? 1 : 0.45,
  (x) => (x >> 1) % 2 ? 1 : 0.45,
  (x, y) => ((Math.floor(x / 3) + Math.floor(y / 3)) % 2) ? 1 : 0.45,
  (x, y) => (x % 4 < 2 && y % 4 < 2) ? 1 : 0.55,
];

function hsv(h: number, s: number, v: number): [number, number, number] {
  h = ((h % 1) + 1) % 1;
  const i = Math.floor(h * 6), f = h * 6 - i;
  const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  const rgb: [number, number, number][] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [
    v,
    p,
    q,
  ]];
  return rgb[i % 6];
}

/** The fixed attributes of a class. */
interface ClassLook {
  shape: number;
  texture: number;
  hue: number;
  cx: number;
  cy: number;
  radius: number;
}

function classLook(c: number, seed: number, size: number): ClassLook {
  const u = (k: number) => hash4(seed, 0x51ab, c, k) / 4294967296;
  return {
    shape: c % SHAPES.length,
    texture: Math.floor(c / SHAPES.length) % TEXTURES.length,
    hue: (c * 0.618033988749895 + u(0) * 0.05) % 1, // golden-ratio spacing keeps hues apart
    cx: size * (0.35 + 0.3 * u(1)),
    cy: size * (0.35 + 0.3 * u(2)),
    radius: size * (0.22 + 0.08 * u(3)),
  };
}

/** Stream id separating generation randomness from augmentation randomness. */
const GEN_STREAM = 0x6e6e;

/**
 * Generates a synthetic classification set in the CIFAR layout (planar CHW bytes).
 *
 * @example
 * ```ts
 * // Same classes (classSeed defaults to 0), different samples:
 * const train = generateSynthetic({ numClasses: 10, samples: 5000, difficulty: 0.5, seed: 1 });
 * const test = generateSynthetic({ numClasses: 10, samples: 1000, difficulty: 0.5, seed: 2 });
 * ```
 */
export function generateSynthetic(opts: SyntheticOptions): ImageSet {
  const { numClasses, samples } = opts;
  const difficulty = opts.difficulty ?? 0.3;
  const seed = opts.seed ?? 0;
  const size = opts.size ?? 32;
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 1000) {
    throw new Error(
      `generateSynthetic: numClasses must be an integer in 1..1000, got ${numClasses}`,
    );
  }
  if (!Number.isInteger(samples) || samples < 1) {
    throw new Error(`generateSynthetic: samples must be a positive integer, got ${samples}`);
  }
  if (!(difficulty >= 0 && difficulty <= 1)) {
    throw new Error(`generateSynthetic: difficulty must be in [0, 1], got ${difficulty}`);
  }
  const classSeed = opts.classSeed ?? 0;
  const looks = Array.from({ length: numClasses }, (_, c) => classLook(c, classSeed, size));
  const plane = size * size;
  const images = new Uint8Array(new SharedArrayBuffer(samples * 3 * plane));
  const labels = new Int32Array(samples);
  const px = new Float32Array(3 * plane);
  for (let i = 0; i < samples; i++) {
    const c = i % numClasses;
    labels[i] = c;
    const r = new SampleRandom(seed, GEN_STREAM, i);
    // Background: dim, desaturated; how much it varies per sample grows with difficulty.
    const bg = hsv(r.next(), 0.4 * difficulty * r.next(), 0.2 + 0.3 * difficulty * r.next());
    for (let k = 0; k < plane; k++) for (let ch = 0; ch < 3; ch++) px[ch * plane + k] = bg[ch];
    // A distractor of a random class look appears with probability = difficulty.
    if (r.next() < difficulty) {
      const other = classLook(r.int(numClasses), classSeed, size);
      drawShape(px, size, other, r.range(0, size), r.range(0, size), other.radius * 0.7, 0.25, r);
    }
    const look = looks[c];
    const shift = 1 + difficulty * size * 0.35;
    const cx = look.cx + r.range(-shift, shift);
    const cy = look.cy + r.range(-shift, shift);
    const radius = look.radius * (1 + r.range(-0.4, 0.4) * difficulty);
    drawShape(px, size, look, cx, cy, radius, difficulty * 0.25, r);
    const noise = 0.02 + 0.25 * difficulty;
    const o = i * 3 * plane;
    for (let k = 0; k < 3 * plane; k++) {
      // Sum of two uniforms: a cheap, bounded, roughly bell-shaped noise.
      const v = px[k] + noise * (r.next() + r.next() - 1);
      images[o + k] = Math.max(0, Math.min(255, Math.round(v * 255)));
    }
  }
  return {
    images,
    labels,
    n: samples,
    height: size,
    width: size,
    channels: 3,
    numClasses,
    labelNames: looks.map((l, c) =>
      `${["disc", "square", "triangle", "ring", "cross", "diamond", "hbar", "vbar"][l.shape]}-` +
      `${["solid", "hstripes", "vstripes", "checker", "dots"][l.texture]}-${c}`
    ),
  };
}

function drawShape(
  px: Float32Array,
  size: number,
  look: ClassLook,
  cx: number,
  cy: number,
  radius: number,
  hueJitter: number,
  r: SampleRandom,
): void {
  const plane = size * size;
  const [cr, cg, cb] = hsv(look.hue + r.range(-hueJitter, hueJitter), 0.85, 0.95);
  const inside = SHAPES[look.shape], tex = TEXTURES[look.texture];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!inside((x + 0.5 - cx) / radius, (y + 0.5 - cy) / radius)) continue;
      const t = tex(x, y), k = y * size + x;
      px[k] = cr * t;
      px[plane + k] = cg * t;
      px[2 * plane + k] = cb * t;
    }
  }
}
