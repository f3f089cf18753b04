/**
 * teskd-cpu's optional oneDNN engine: convolutions (forward, input and filter gradients), matrix
 * products and broadcasting arithmetic run by Intel's oneDNN through Deno FFI, on tfjs's own arrays
 * (no copies: oneDNN reads and writes them through pointers for the duration of each synchronous
 * call).
 *
 * Activations stay NHWC and filters HWIO, as tfjs keeps them; each convolution lets oneDNN pick
 * its filter layout (`format_tag_any`) and reorders into and out of it, since the fastest kernels
 * want blocked filters. Convolutions whose kernel equals their stride (TESKD's student heads) run
 * as one matrix product on a patch matrix instead, which is several times faster. Primitives are
 * built once per shape and reused.
 *
 * @module
 */
import type { ConvGeometry, MatmulShape } from "./ops.ts";
import { allocOutput } from "./pool.ts";
import { addBias } from "./elementwise.ts";
import {
  check,
  dims,
  DNNL,
  type DnnlLibrary,
  type DnnlSymbols,
  handleOf,
  handleSlot,
  memoryDescBuffer,
  OP_DESC_BYTES,
  openDnnl,
} from "./onednn_ffi.ts";

type Ptr = Deno.PointerObject;

/** One argument of a primitive: the caller's plain memory and, when they differ, oneDNN's own. */
interface Slot {
  /** Memory object over the caller's array (its data handle is set per call). */
  user: Ptr;
  /** Reorder between the caller's layout and the primitive's, or null when they agree. */
  reorder: Ptr | null;
  /** Reorder arguments (FROM/TO), prebuilt. */
  reorderArgs: Uint8Array<ArrayBuffer> | null;
  /** oneDNN's own memory in the primitive's layout, when it differs from the caller's. */
  inner: Ptr | null;
  output: boolean;
}

/** A primitive ready to run on caller arrays, in the order its slots were declared. */
class BoundPrimitive {
  constructor(
    private readonly dnnl: DnnlSymbols,
    private readonly stream: Ptr,
    private readonly primitive: Ptr,
    private readonly args: Uint8Array<ArrayBuffer>,
    private readonly slots: Slot[],
    /** oneDNN's implementation name, e.g. "brgconv:avx512_core". */
    readonly impl: string,
  ) {}

  run(arrays: Float32Array[]): void {
    const d = this.dnnl;
    this.slots.forEach((s, i) => {
      check(d.dnnl_memory_set_data_handle(s.user, Deno.UnsafePointer.of(arrays[i])), "set handle");
    });
    for (const s of this.slots) {
      if (!s.output && s.reorder !== null) {
        check(d.dnnl_primitive_execute(s.reorder, this.stream, 2, s.reorderArgs!), "reorder");
      }
    }
    check(
      d.dnnl_primitive_execute(this.primitive, this.stream, this.args.length / 16, this.args),
      "execute",
    );
    for (const s of this.slots) {
      if (s.output && s.reorder !== null) {
        check(d.dnnl_primitive_execute(s.reorder, this.stream, 2, s.reorderArgs!), "reorder");
      }
    }
    check(d.dnnl_stream_wait(this.stream), "stream wait");
  }

  /** Releases the primitive, its reorders and its memory objects. */
  destroy(): void {
    const d = this.dnnl;
    d.dnnl_primitive_destroy(this.primitive);
    for (const s of this.slots) {
      if (s.reorder !== null) d.dnnl_primitive_destroy(s.reorder);
      if (s.inner !== null) d.dnnl_memory_destroy(s.inner);
      d.dnnl_memory_destroy(s.user);
    }
  }
}

function argsBuffer(pairs: [number, Ptr][]): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(pairs.length * 16);
  const view = new DataView(buf.buffer);
  pairs.forEach(([arg, mem], i) => {
    view.setInt32(i * 16, arg, true);
    view.setBigUint64(i * 16 + 8, BigInt(Deno.UnsafePointer.value(mem)), true);
  });
  return buf;
}

/** How one primitive argument is bound (see OneDnnEngine's #bind). */
interface SlotSpec {
  /** DNNL_ARG_* of the argument. */
  arg: number;
  /** The caller's layout. */
  userMd: Uint8Array<ArrayBuffer>;
  /**
   * dnnl_query_*_md that gives the primitive's layout, and its index; null for a post-op operand,
   * which the primitive takes in the layout it was declared with.
   */
  query: number | null;
  index?: number;
  output: boolean;
}

/** Memory descriptors and geometry arrays of one convolution. */
interface ConvLayouts {
  src: Uint8Array<ArrayBuffer>;
  dst: Uint8Array<ArrayBuffer>;
  weights: Uint8Array<ArrayBuffer>;
  weightsAny: Uint8Array<ArrayBuffer>;
  strides: BigInt64Array<ArrayBuffer>;
  dilates: BigInt64Array<ArrayBuffer>;
  padL: BigInt64Array<ArrayBuffer>;
  padR: BigInt64Array<ArrayBuffer>;
}

/** NHWC activation strides for logical dims [N, C, H, W]. */
function nhwc(n: number, c: number, h: number, w: number): { d: number[]; s: number[] } {
  return { d: [n, c, h, w], s: [h * w * c, 1, w * c, c] };
}

/** HWIO filter strides for logical dims [O, I, KH, KW]. */
function hwio(o: number, i: number, kh: number, kw: number): { d: number[]; s: number[] } {
  return { d: [o, i, kh, kw], s: [1, o, kw * i * o, i * o] };
}

/** Elementwise binary operations oneDNN runs (with broadcasting of the second operand). */
export type DnnlBinaryOp = "add" | "sub" | "mul" | "div";

const BINARY_ALG: Record<DnnlBinaryOp, number> = {
  add: DNNL.binaryAdd,
  sub: DNNL.binarySub,
  mul: DNNL.binaryMul,
  div: DNNL.binaryDiv,
};

/** Primitives kept at most by default; beyond that the cache starts over. */
const MAX_PRIMITIVES = 1024;

/** The oneDNN engine: one CPU engine and stream, and a cache of bound primitives by shape. */
export class OneDnnEngine {
  readonly #lib: DnnlLibrary;
  readonly #engine: Ptr;
  readonly #stream: Ptr;
  readonly #cache = new Map<string, BoundPrimitive>();
  /** Patch matrices of patch convolutions (see {@link isPatchConv}). */
  #scratch = new Float32Array(0);
  /** Partial results of split input gradients (see {@link #splitInputGrad}). */
  #partial = new Float32Array(0);

  readonly #maxPrimitives: number;

  private constructor(lib: DnnlLibrary, maxPrimitives: number) {
    this.#lib = lib;
    this.#maxPrimitives = maxPrimitives;
    const d = lib.symbols;
    const e = handleSlot();
    check(d.dnnl_engine_create(e, DNNL.cpuEngine, 0n), "engine create");
    this.#engine = handleOf(e);
    const s = handleSlot();
    check(d.dnnl_stream_create(s, this.#engine, DNNL.streamDefaultFlags), "stream create");
    this.#stream = handleOf(s);
  }

  /**
   * Opens oneDNN (see {@link openDnnl}); throws when it cannot be used. `maxPrimitives` bounds the
   * cache of built primitives (default 1024).
   */
  static open(path?: string, opts: { maxPrimitives?: number } = {}): OneDnnEngine {
    return new OneDnnEngine(openDnnl(path), opts.maxPrimitives ?? MAX_PRIMITIVES);
  }

  /** "onednn 2.6.3". */
  get label(): string {
    return `onednn ${this.#lib.version}`;
  }

  /** Implementation names of the primitives built so far, by shape key. */
  implementations(): Map<string, string> {
    return new Map([...this.#cache].map(([k, p]) => [k, p.impl]));
  }

  get #d(): DnnlSymbols {
    return this.#lib.symbols;
  }

  #plainMd(layout: { d: number[]; s: number[] }): Uint8Array<ArrayBuffer> {
    const md = memoryDescBuffer();
    check(
      this.#d.dnnl_memory_desc_init_by_strides(
        md,
        layout.d.length,
        dims(layout.d),
        DNNL.f32,
        dims(layout.s),
      ),
      "memory desc",
    );
    return md;
  }

  #anyMd(shape: number[]): Uint8Array<ArrayBuffer> {
    const md = memoryDescBuffer();
    check(
      this.#d.dnnl_memory_desc_init_by_tag(
        md,
        shape.length,
        dims(shape),
        DNNL.f32,
        DNNL.formatTagAny,
      ),
      "memory desc",
    );
    return md;
  }

  #memory(md: Ptr | Uint8Array<ArrayBuffer>, handle: Ptr | null): Ptr {
    const slot = handleSlot();
    const mdPtr = md instanceof Uint8Array ? Deno.UnsafePointer.of(md) : md;
    check(this.#d.dnnl_memory_create(slot, mdPtr, this.#engine, handle), "memory create");
    return handleOf(slot);
  }

  #primitiveDesc(opDesc: Uint8Array<ArrayBuffer>, hint: Ptr | null, attr: Ptr | null = null): Ptr {
    const slot = handleSlot();
    check(this.#d.dnnl_primitive_desc_create(slot, opDesc, attr, this.#engine, hint), "create pd");
    return handleOf(slot);
  }

  /** Attributes holding one binary post-op (`alg` with a second operand of layout `md`). */
  #binaryPostOp(alg: number, md: Uint8Array<ArrayBuffer>): Ptr {
    const d = this.#d;
    const ops = handleSlot();
    check(d.dnnl_post_ops_create(ops), "post-ops create");
    const attr = handleSlot();
    try {
      check(d.dnnl_post_ops_append_binary(handleOf(ops), alg, md), "post-op append");
      check(d.dnnl_primitive_attr_create(attr), "attr create");
      check(d.dnnl_primitive_attr_set_post_ops(handleOf(attr), handleOf(ops)), "attr post-ops");
    } finally {
      d.dnnl_post_ops_destroy(handleOf(ops));
    }
    return handleOf(attr);
  }

  /** Attributes holding one sum post-op: the primitive adds its result to what dst holds. */
  #sumPostOp(): Ptr {
    const d = this.#d;
    const ops = handleSlot();
    check(d.dnnl_post_ops_create(ops), "post-ops create");
    const attr = handleSlot();
    try {
      check(d.dnnl_post_ops_append_sum(handleOf(ops), 1), "post-op append");
      check(d.dnnl_primitive_attr_create(attr), "attr create");
      check(d.dnnl_primitive_attr_set_post_ops(handleOf(attr), handleOf(ops)), "attr post-ops");
    } finally {
      d.dnnl_post_ops_destroy(handleOf(ops));
    }
    return handleOf(attr);
  }

  /** A primitive descriptor with the sum post-op when `accumulate`, plain otherwise. */
  #maybeSumPd(desc: Uint8Array<ArrayBuffer>, accumulate: boolean): Ptr {
    if (!accumulate) return this.#primitiveDesc(desc, null);
    const attr = this.#sumPostOp();
    try {
      return this.#primitiveDesc(desc, null, attr);
    } finally {
      this.#d.dnnl_primitive_attr_destroy(attr);
    }
  }

  /** A backward convolution's primitive descriptor, with the forward one oneDNN wants as a hint. */
  #backwardPd(desc: Uint8Array<ArrayBuffer>, l: ConvLayouts): Ptr {
    const hint = this.#primitiveDesc(this.#forwardDesc(l, null), null);
    try {
      return this.#primitiveDesc(desc, hint);
    } finally {
      this.#d.dnnl_primitive_desc_destroy(hint);
    }
  }

  #primitive(pd: Ptr): Ptr {
    const slot = handleSlot();
    check(this.#d.dnnl_primitive_create(slot, pd), "create primitive");
    return handleOf(slot);
  }

  #implName(pd: Ptr): string {
    const out = handleSlot();
    if (this.#d.dnnl_primitive_desc_query(pd, DNNL.queryImplInfoStr, 0, out) !== 0) return "?";
    const p = Deno.UnsafePointer.create(out[0]);
    return p === null ? "?" : Deno.UnsafePointerView.getCString(p);
  }

  /**
   * Binds `pd`'s primitive to caller arrays: for each argument, the caller's plain layout `userMd`
   * and the query that gives the primitive's layout; a reorder is added where the two differ.
   */
  #bind(pd: Ptr, spec: SlotSpec[]): BoundPrimitive {
    const d = this.#d;
    const slots: Slot[] = [];
    const pairs: [number, Ptr][] = [];
    for (const s of spec) {
      const user = this.#memory(s.userMd, null);
      if (s.query === null) {
        slots.push({ user, reorder: null, reorderArgs: null, inner: null, output: s.output });
        pairs.push([s.arg, user]);
        continue;
      }
      const want = d.dnnl_primitive_desc_query_md(pd, s.query, s.index ?? 0);
      if (want === null) throw new Error(`oneDNN: primitive has no memory for query ${s.query}`);
      const userPtr = Deno.UnsafePointer.of(s.userMd)!;
      if (d.dnnl_memory_desc_equal(userPtr, want) === 1) {
        slots.push({ user, reorder: null, reorderArgs: null, inner: null, output: s.output });
        pairs.push([s.arg, user]);
        continue;
      }
      const inner = this.#memory(want, Deno.UnsafePointer.create(DNNL.memoryAllocate));
      const [from, to] = s.output ? [want, userPtr] : [userPtr, want];
      const rpdSlot = handleSlot();
      check(
        d.dnnl_reorder_primitive_desc_create(rpdSlot, from, this.#engine, to, this.#engine, null),
        "reorder pd",
      );
      const rpd = handleOf(rpdSlot);
      const reorder = this.#primitive(rpd);
      d.dnnl_primitive_desc_destroy(rpd);
      const reorderArgs = s.output
        ? argsBuffer([[DNNL.argSrc, inner], [DNNL.argDst, user]])
        : argsBuffer([[DNNL.argSrc, user], [DNNL.argDst, inner]]);
      slots.push({ user, reorder, reorderArgs, inner, output: s.output });
      pairs.push([s.arg, inner]);
    }
    const bound = new BoundPrimitive(
      d,
      this.#stream,
      this.#primitive(pd),
      argsBuffer(pairs),
      slots,
      this.#implName(pd),
    );
    // The primitive and the memory objects hold copies of what they need from the descriptor.
    d.dnnl_primitive_desc_destroy(pd);
    return bound;
  }

  /** A cached reorder (a strided copy) from the `from` layout to the `to` layout. */
  #reorder(
    key: string,
    what: string,
    from: { d: number[]; s: number[] },
    to: { d: number[]; s: number[] },
  ): BoundPrimitive {
    return this.#cached(key, () => {
      const src = this.#plainMd(from);
      const dst = this.#plainMd(to);
      const slot = handleSlot();
      check(
        this.#d.dnnl_reorder_primitive_desc_create(
          slot,
          Deno.UnsafePointer.of(src),
          this.#engine,
          Deno.UnsafePointer.of(dst),
          this.#engine,
          null,
        ),
        `${what} reorder pd`,
      );
      return this.#bind(handleOf(slot), [
        { arg: DNNL.argSrc, userMd: src, query: DNNL.querySrcMd, output: false },
        { arg: DNNL.argDst, userMd: dst, query: DNNL.queryDstMd, output: true },
      ]);
    });
  }

  #cached(key: string, build: () => BoundPrimitive): BoundPrimitive {
    let p = this.#cache.get(key);
    if (p === undefined) {
      // A session that keeps meeting new shapes must not grow without bound.
      if (this.#cache.size >= this.#maxPrimitives) {
        for (const old of this.#cache.values()) old.destroy();
        this.#cache.clear();
      }
      p = build();
      this.#cache.set(key, p);
    }
    return p;
  }

  #convLayouts(g: ConvGeometry): ConvLayouts {
    const pad = g.padInfo as ConvGeometry["padInfo"] & { bottom?: number; right?: number };
    const kh = (g.filterHeight - 1) * g.dilationHeight + 1;
    const kw = (g.filterWidth - 1) * g.dilationWidth + 1;
    // tfjs reports no bottom/right padding for some modes: derive what the output size implies.
    const pb = pad.bottom ?? (g.outHeight - 1) * g.strideHeight + kh - g.inHeight - pad.top;
    const pr = pad.right ?? (g.outWidth - 1) * g.strideWidth + kw - g.inWidth - pad.left;
    return {
      src: this.#plainMd(nhwc(g.batchSize, g.inChannels, g.inHeight, g.inWidth)),
      dst: this.#plainMd(nhwc(g.batchSize, g.outChannels, g.outHeight, g.outWidth)),
      weights: this.#plainMd(hwio(g.outChannels, g.inChannels, g.filterHeight, g.filterWidth)),
      weightsAny: this.#anyMd([g.outChannels, g.inChannels, g.filterHeight, g.filterWidth]),
      strides: dims([g.strideHeight, g.strideWidth]),
      dilates: dims([g.dilationHeight - 1, g.dilationWidth - 1]),
      padL: dims([pad.top, pad.left]),
      padR: dims([Math.max(0, pb), Math.max(0, pr)]),
    };
  }

  #forwardDesc(l: ConvLayouts, bias: Uint8Array<ArrayBuffer> | null): Uint8Array<ArrayBuffer> {
    const desc = new Uint8Array(OP_DESC_BYTES);
    check(
      this.#d.dnnl_dilated_convolution_forward_desc_init(
        desc,
        DNNL.forwardTraining,
        DNNL.convolutionDirect,
        l.src,
        l.weightsAny,
        bias === null ? null : Deno.UnsafePointer.of(bias),
        l.dst,
        l.strides,
        l.dilates,
        l.padL,
        l.padR,
      ),
      "convolution forward desc",
    );
    return desc;
  }

  /** NHWC convolution of `x` with HWIO `filter` (plus `bias` per output channel when given). */
  conv2d(
    x: Float32Array,
    filter: Float32Array,
    g: ConvGeometry,
    bias?: Float32Array,
  ): Float32Array {
    if (isPatchConv(g)) {
      const out = this.#patchConv(x, filter, g);
      if (bias) addBias(out, bias);
      return out;
    }
    const parts = reductionParts(g.filterHeight * g.filterWidth, g.inChannels);
    if (parts > 1) return this.#splitConv(x, filter, g, parts, bias);
    const key = `fwd${bias ? "+b" : ""} ${geometryKey(g)}`;
    const prim = this.#cached(key, () => {
      const l = this.#convLayouts(g);
      const biasMd = bias ? this.#plainMd({ d: [g.outChannels], s: [1] }) : null;
      const pd = this.#primitiveDesc(this.#forwardDesc(l, biasMd), null);
      const spec: SlotSpec[] = [
        { arg: DNNL.argSrc, userMd: l.src, query: DNNL.querySrcMd, output: false },
        { arg: DNNL.argWeights, userMd: l.weights, query: DNNL.queryWeightsMd, output: false },
        { arg: DNNL.argDst, userMd: l.dst, query: DNNL.queryDstMd, output: true },
      ];
      if (biasMd !== null) {
        spec.push({
          arg: DNNL.argBias,
          userMd: biasMd,
          query: DNNL.queryWeightsMd,
          index: 1,
          output: false,
        });
      }
      return this.#bind(pd, spec);
    });
    const out = allocOutput(g.batchSize * g.outHeight * g.outWidth * g.outChannels);
    prim.run(bias ? [x, filter, out, bias] : [x, filter, out]);
    return out;
  }

  /**
   * A convolution whose reduction (KH·KW·C products per output) is longer than
   * {@link MAX_CHAIN}, as `parts` convolutions over equal slices of the input channels, each
   * adding its partial sums to the output (sum post-op): oneDNN accumulates each output in one
   * float32 register across the whole reduction, whose rounding error grows with its length.
   */
  #splitConv(
    x: Float32Array,
    filter: Float32Array,
    g: ConvGeometry,
    parts: number,
    bias?: Float32Array,
  ): Float32Array {
    const c = g.inChannels / parts;
    const o = g.outChannels;
    const { filterHeight: kh, filterWidth: kw } = g;
    const out = allocOutput(g.batchSize * g.outHeight * g.outWidth * o);
    for (let p = 0; p < parts; p++) {
      const withBias = p === 0 && bias !== undefined;
      const key = `fwd-part ${p === 0 ? (withBias ? "first+b" : "first") : "add"} ${parts} ` +
        geometryKey(g);
      const prim = this.#cached(key, () => {
        const full = this.#convLayouts(g);
        // The slice's input channels, copied out dense (oneDNN's fast kernels want dense NHWC),
        // and its filter rows as a strided view of the HWIO filter.
        const src = this.#plainMd(nhwc(g.batchSize, c, g.inHeight, g.inWidth));
        const weights = this.#plainMd({
          d: [o, c, kh, kw],
          s: [1, o, kw * g.inChannels * o, g.inChannels * o],
        });
        const l = { ...full, src, weights, weightsAny: this.#anyMd([o, c, kh, kw]) };
        const biasMd = withBias ? this.#plainMd({ d: [o], s: [1] }) : null;
        const pd = this.#maybeSumPd(this.#forwardDesc(l, biasMd), p > 0);
        const spec: SlotSpec[] = [
          { arg: DNNL.argSrc, userMd: src, query: DNNL.querySrcMd, output: false },
          { arg: DNNL.argWeights, userMd: weights, query: DNNL.queryWeightsMd, output: false },
          // The output must be the caller's array itself: the sum post-op reads what it holds.
          { arg: DNNL.argDst, userMd: l.dst, query: null, output: true },
        ];
        if (biasMd !== null) {
          spec.push({
            arg: DNNL.argBias,
            userMd: biasMd,
            query: DNNL.queryWeightsMd,
            index: 1,
            output: false,
          });
        }
        return this.#bind(pd, spec);
      });
      const xs = this.#scratchOf(g.batchSize * g.inHeight * g.inWidth * c);
      this.#channelSlice(
        x.subarray(p * c),
        xs,
        [g.batchSize, g.inHeight, g.inWidth, g.inChannels],
        c,
      );
      const fs = filter.subarray(p * c * o);
      prim.run(withBias ? [xs, fs, out, bias!] : [xs, fs, out]);
    }
    return out;
  }

  /** Copies `c` channels of NHWC `x` of `shape` (from its first) into dense NHWC `to`. */
  #channelSlice(
    x: Float32Array,
    to: Float32Array,
    shape: readonly [number, number, number, number],
    c: number,
  ): void {
    const [n, h, w, all] = shape;
    this.#reorder(
      `slice ${c} ${n},${h},${w},${all}`,
      "slice",
      { d: [n, c, h, w], s: [h * w * all, 1, w * all, all] },
      nhwc(n, c, h, w),
    ).run([x, to]);
  }

  /** Input gradient (NHWC) of a convolution from its output gradient `dy` and HWIO `filter`. */
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, g: ConvGeometry): Float32Array {
    if (isPatchConv(g)) return this.#patchInputGrad(dy, filter, g);
    const parts = reductionParts(g.filterHeight * g.filterWidth, g.outChannels);
    if (parts > 1) return this.#splitInputGrad(dy, filter, g, parts);
    const prim = this.#cached(
      `bwd-data ${geometryKey(g)}`,
      () => this.#backwardData(this.#convLayouts(g)),
    );
    const dx = allocOutput(g.batchSize * g.inHeight * g.inWidth * g.inChannels);
    prim.run([dy, filter, dx]);
    return dx;
  }

  /** The input-gradient primitive of a convolution with layouts `l` (dy, weights → dx). */
  #backwardData(l: ConvLayouts): BoundPrimitive {
    const desc = new Uint8Array(OP_DESC_BYTES);
    check(
      this.#d.dnnl_dilated_convolution_backward_data_desc_init(
        desc,
        DNNL.convolutionDirect,
        l.src,
        l.weightsAny,
        l.dst,
        l.strides,
        l.dilates,
        l.padL,
        l.padR,
      ),
      "convolution backward data desc",
    );
    return this.#bind(this.#backwardPd(desc, l), [
      { arg: DNNL.argDiffDst, userMd: l.dst, query: DNNL.queryDiffDstMd, output: false },
      { arg: DNNL.argWeights, userMd: l.weights, query: DNNL.queryWeightsMd, output: false },
      { arg: DNNL.argDiffSrc, userMd: l.src, query: DNNL.queryDiffSrcMd, output: true },
    ]);
  }

  /**
   * The input gradient as `parts` input gradients over equal slices of the output channels, each
   * added to the result (see {@link #splitConv}): its reduction runs over KH·KW·O products.
   */
  #splitInputGrad(
    dy: Float32Array,
    filter: Float32Array,
    g: ConvGeometry,
    parts: number,
  ): Float32Array {
    const o = g.outChannels / parts;
    const cin = g.inChannels;
    const { filterHeight: kh, filterWidth: kw } = g;
    const dx = allocOutput(g.batchSize * g.inHeight * g.inWidth * cin);
    for (let p = 0; p < parts; p++) {
      const key = `bwd-data-part ${p === 0 ? "first" : "add"} ${parts} ${geometryKey(g)}`;
      const prim = this.#cached(key, () => {
        const full = this.#convLayouts(g);
        const dst = this.#plainMd(nhwc(g.batchSize, o, g.outHeight, g.outWidth));
        const weights = this.#plainMd({
          d: [o, cin, kh, kw],
          s: [1, g.outChannels, kw * cin * g.outChannels, cin * g.outChannels],
        });
        const l = { ...full, dst, weights, weightsAny: this.#anyMd([o, cin, kh, kw]) };
        return this.#backwardData(l);
      });
      const dys = this.#scratchOf(g.batchSize * g.outHeight * g.outWidth * o);
      const shape = [g.batchSize, g.outHeight, g.outWidth, g.outChannels] as const;
      this.#channelSlice(dy.subarray(p * o), dys, shape, o);
      // Backward primitives take no sum post-op: later slices go to a buffer, then are added.
      const part = p === 0 ? dx : this.#partialOf(dx.length);
      prim.run([dys, filter.subarray(p * o), part]);
      if (p > 0) this.#addInPlace(dx, part);
    }
    return dx;
  }

  /** A second scratch array of `n` floats (partial results), reused across calls. */
  #partialOf(n: number): Float32Array {
    if (this.#partial.length < n) this.#partial = new Float32Array(n);
    return this.#partial.subarray(0, n);
  }

  /** acc += v (same length), in place. */
  #addInPlace(acc: Float32Array, v: Float32Array): void {
    const prim = this.#cached(`accumulate ${acc.length}`, () => {
      const md = this.#plainMd({ d: [acc.length], s: [1] });
      const desc = new Uint8Array(OP_DESC_BYTES);
      check(this.#d.dnnl_binary_desc_init(desc, DNNL.binaryAdd, md, md, md), "binary desc");
      return this.#bind(this.#primitiveDesc(desc, null), [
        { arg: DNNL.argSrc, userMd: md, query: DNNL.querySrcMd, output: false },
        { arg: DNNL.argSrc1, userMd: md, query: DNNL.querySrcMd, index: 1, output: false },
        { arg: DNNL.argDst, userMd: md, query: DNNL.queryDstMd, output: true },
      ]);
    });
    prim.run([acc, v, acc]);
  }

  /** Filter gradient (HWIO) of an NHWC convolution from its input `x` and output gradient `dy`. */
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, g: ConvGeometry): Float32Array {
    if (isPatchConv(g)) return this.#patchFilterGrad(x, dy, g);
    const prim = this.#cached(`bwd-weights ${geometryKey(g)}`, () => {
      const l = this.#convLayouts(g);
      const desc = new Uint8Array(OP_DESC_BYTES);
      check(
        this.#d.dnnl_dilated_convolution_backward_weights_desc_init(
          desc,
          DNNL.convolutionDirect,
          l.src,
          l.weightsAny,
          null,
          l.dst,
          l.strides,
          l.dilates,
          l.padL,
          l.padR,
        ),
        "convolution backward weights desc",
      );
      return this.#bind(this.#backwardPd(desc, l), [
        { arg: DNNL.argSrc, userMd: l.src, query: DNNL.querySrcMd, output: false },
        { arg: DNNL.argDiffDst, userMd: l.dst, query: DNNL.queryDiffDstMd, output: false },
        {
          arg: DNNL.argDiffWeights,
          userMd: l.weights,
          query: DNNL.queryDiffWeightsMd,
          output: true,
        },
      ]);
    });
    const dw = allocOutput(g.filterHeight * g.filterWidth * g.inChannels * g.outChannels);
    prim.run([x, dy, dw]);
    return dw;
  }

  /**
   * `a op b` where `b` broadcasts to `a`'s shape (numpy rules; `a` must already have the output
   * shape, so callers swap commutative operands). Returns null when `a` would need broadcasting.
   */
  binary(
    op: DnnlBinaryOp,
    a: Float32Array,
    aShape: readonly number[],
    b: Float32Array,
    bShape: readonly number[],
  ): Float32Array | null {
    const rank = Math.max(aShape.length, bShape.length);
    const pad = (s: readonly number[]) => [...new Array(rank - s.length).fill(1), ...s];
    const pa = pad(aShape);
    const pb = pad(bShape);
    if (pb.some((d, i) => d !== pa[i] && d !== 1)) return null;
    // oneDNN wants at least one dimension.
    const da = rank === 0 ? [1] : pa;
    const db = rank === 0 ? [1] : pb;
    const prim = this.#cached(`binary ${op} ${da} ${db}`, () => {
      const src0 = this.#plainMd(rowMajor(da));
      const src1 = this.#plainMd(rowMajor(db));
      const dst = this.#plainMd(rowMajor(da));
      const desc = new Uint8Array(OP_DESC_BYTES);
      check(this.#d.dnnl_binary_desc_init(desc, BINARY_ALG[op], src0, src1, dst), "binary desc");
      return this.#bind(this.#primitiveDesc(desc, null), [
        { arg: DNNL.argSrc, userMd: src0, query: DNNL.querySrcMd, output: false },
        { arg: DNNL.argSrc1, userMd: src1, query: DNNL.querySrcMd, index: 1, output: false },
        { arg: DNNL.argDst, userMd: dst, query: DNNL.queryDstMd, output: true },
      ]);
    });
    const out = allocOutput(a.length);
    prim.run([a, b, out]);
    return out;
  }

  /**
   * `x · scale + shift` per channel of channels-last `x` (`channels` values per row, `scale` and
   * `shift` one per channel): batch norm with fixed statistics, in one pass.
   */
  scaleShift(x: Float32Array, channels: number, scale: Float32Array, shift: Float32Array) {
    const rows = x.length / channels;
    const prim = this.#cached(`scale-shift ${rows} ${channels}`, () => {
      const data = this.#plainMd(rowMajor([rows, channels]));
      const vec = this.#plainMd(rowMajor([1, channels]));
      const desc = new Uint8Array(OP_DESC_BYTES);
      check(this.#d.dnnl_binary_desc_init(desc, DNNL.binaryMul, data, vec, data), "binary desc");
      const attr = this.#binaryPostOp(DNNL.binaryAdd, vec);
      let pd: Ptr;
      try {
        pd = this.#primitiveDesc(desc, null, attr);
      } finally {
        this.#d.dnnl_primitive_attr_destroy(attr);
      }
      return this.#bind(pd, [
        { arg: DNNL.argSrc, userMd: data, query: DNNL.querySrcMd, output: false },
        { arg: DNNL.argSrc1, userMd: vec, query: DNNL.querySrcMd, index: 1, output: false },
        { arg: DNNL.argPostOp0Src1, userMd: vec, query: null, output: false },
        { arg: DNNL.argDst, userMd: data, query: DNNL.queryDstMd, output: true },
      ]);
    });
    const out = allocOutput(x.length);
    prim.run([x, scale, shift, out]);
    return out;
  }

  /** The batched matrix product of `shape` (see {@linkcode MatmulShape}). */
  matmul(a: Float32Array, b: Float32Array, shape: MatmulShape): Float32Array {
    return this.#matmulInto(allocOutput(shape.batch * shape.m * shape.n), a, b, shape);
  }

  #matmulInto(
    out: Float32Array,
    a: Float32Array,
    b: Float32Array,
    shape: MatmulShape,
  ): Float32Array {
    const { batch, m, n, k, transA, transB } = shape;
    const batchA = a.length === m * k ? 1 : batch;
    const batchB = b.length === k * n ? 1 : batch;
    // Long reductions in slices of at most MAX_CHAIN products, each added to the output (see
    // #splitConv): slice p of the reduction is a strided view of both operands.
    const parts = reductionParts(1, k);
    const kp = k / parts;
    for (let p = 0; p < parts; p++) {
      const key = `matmul${parts > 1 ? ` part ${p > 0 ? "add" : "first"} ${parts}` : ""} ` +
        `${batchA}x${batchB} ${m} ${n} ${k} ${transA} ${transB}`;
      const prim = this.#cached(key, () => {
        const src = this.#plainMd({
          d: [batchA, m, kp],
          s: [m * k, transA ? 1 : k, transA ? m : 1],
        });
        const wei = this.#plainMd({
          d: [batchB, kp, n],
          s: [k * n, transB ? 1 : n, transB ? k : 1],
        });
        const dst = this.#plainMd({ d: [batch, m, n], s: [m * n, n, 1] });
        const desc = new Uint8Array(OP_DESC_BYTES);
        check(this.#d.dnnl_matmul_desc_init(desc, src, wei, null, dst), "matmul desc");
        return this.#bind(this.#maybeSumPd(desc, p > 0), [
          { arg: DNNL.argSrc, userMd: src, query: DNNL.querySrcMd, output: false },
          { arg: DNNL.argWeights, userMd: wei, query: DNNL.queryWeightsMd, output: false },
          {
            arg: DNNL.argDst,
            userMd: dst,
            query: parts > 1 ? null : DNNL.queryDstMd,
            output: true,
          },
        ]);
      });
      const as = p === 0 ? a : a.subarray(p * kp * (transA ? m : 1));
      const bs = p === 0 ? b : b.subarray(p * kp * (transB ? 1 : n));
      prim.run([as, bs, out]);
    }
    return out;
  }

  /** A scratch array of at least `n` floats, reused across calls (valid until the next call). */
  #scratchOf(n: number): Float32Array {
    if (this.#scratch.length < n) this.#scratch = new Float32Array(n);
    return this.#scratch.subarray(0, n);
  }

  /**
   * Copies between an NHWC image and its patch matrix [N·OH·OW, KH·KW·C] (row-major, one patch per
   * row in HWIO filter order) for a convolution whose kernel equals its stride: one oneDNN reorder
   * over the 6-D view [N, OH, OW, KH, KW, C] of both layouts.
   */
  #patches(from: Float32Array, to: Float32Array, g: ConvGeometry, toPatches: boolean): void {
    const { batchSize: n, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = g;
    const c = g.inChannels;
    const w = g.inWidth;
    const dimsOf = [n, oh, ow, kh, kw, c];
    const image = { d: dimsOf, s: [g.inHeight * w * c, kh * w * c, kw * c, w * c, c, 1] };
    this.#reorder(
      `patches ${toPatches} ${geometryKey(g)}`,
      "patch",
      toPatches ? image : rowMajor(dimsOf),
      toPatches ? rowMajor(dimsOf) : image,
    ).run([from, to]);
  }

  /** The patch matrix of `x` (in the scratch array): M = N·OH·OW patches of K = KH·KW·C values. */
  #patchMatrix(x: Float32Array, g: ConvGeometry): { p: Float32Array; m: number; k: number } {
    const m = g.batchSize * g.outHeight * g.outWidth;
    const k = g.filterHeight * g.filterWidth * g.inChannels;
    const p = this.#scratchOf(m * k);
    this.#patches(x, p, g, true);
    return { p, m, k };
  }

  /** Forward pass of a patch convolution (see {@link isPatchConv}): patches · filter. */
  #patchConv(x: Float32Array, filter: Float32Array, g: ConvGeometry): Float32Array {
    const { p, m, k } = this.#patchMatrix(x, g);
    const c = g.outChannels;
    const shape = { batch: 1, m, n: c, k, transA: false, transB: false };
    return this.#matmulInto(allocOutput(m * c), p, filter, shape);
  }

  /** Filter gradient of a patch convolution: patchesᵀ · dy. */
  #patchFilterGrad(x: Float32Array, dy: Float32Array, g: ConvGeometry): Float32Array {
    const { p, m, k } = this.#patchMatrix(x, g);
    const c = g.outChannels;
    const shape = { batch: 1, m: k, n: c, k: m, transA: true, transB: false };
    return this.#matmulInto(allocOutput(k * c), p, dy, shape);
  }

  /** Input gradient of a patch convolution: dy · filterᵀ, scattered back to the image. */
  #patchInputGrad(dy: Float32Array, filter: Float32Array, g: ConvGeometry): Float32Array {
    const m = g.batchSize * g.outHeight * g.outWidth;
    const k = g.filterHeight * g.filterWidth * g.inChannels;
    const c = g.outChannels;
    const shape = { batch: 1, m, n: k, k: c, transA: false, transB: true };
    const dp = this.#matmulInto(this.#scratchOf(m * k), dy, filter, shape);
    const dx = allocOutput(g.batchSize * g.inHeight * g.inWidth * g.inChannels);
    this.#patches(dp, dx, g, false);
    return dx;
  }
}

/**
 * Longest reduction oneDNN runs in one piece: its float32 kernels accumulate each output of a
 * convolution or matrix product in one register across the whole reduction (KH·KW·C products; K
 * of a matrix product), so the rounding error grows with the reduction's length — several times
 * the WebAssembly kernels' at ResNet widths, which add blocks of 256 products. Longer reductions
 * are split into slices of at most this many products, each added to the output.
 */
export const MAX_CHAIN = 288;

/**
 * Into how many equal slices of its `channels` a reduction of `taps` × `channels` products is
 * split so that each holds at most {@link MAX_CHAIN} of them (1: not split). Slices keep a
 * multiple of 16 channels where that divides evenly (oneDNN's vector width), else any divisor.
 */
export function reductionParts(taps: number, channels: number): number {
  if (taps * channels <= MAX_CHAIN) return 1;
  const need = Math.ceil((taps * channels) / MAX_CHAIN);
  let fallback = 0;
  for (let parts = need; parts <= channels; parts++) {
    if (channels % parts !== 0) continue;
    if ((channels / parts) % 16 === 0) return parts;
    if (fallback === 0) fallback = parts;
  }
  // A slice must hold at least one channel; a tap count above MAX_CHAIN alone cannot be split.
  return fallback === 0 ? channels : fallback;
}

/**
 * True for a convolution that cuts its input into non-overlapping patches — kernel equal to stride,
 * no padding or dilation, the patches tiling the input exactly (TESKD's student heads): it is one
 * matrix product on the patch matrix, which oneDNN's convolution kernels do far more slowly.
 */
export function isPatchConv(g: ConvGeometry): boolean {
  const pad = g.padInfo as ConvGeometry["padInfo"] & { bottom?: number; right?: number };
  return g.filterHeight * g.filterWidth > 1 && g.filterHeight === g.strideHeight &&
    g.filterWidth === g.strideWidth && g.dilationHeight === 1 && g.dilationWidth === 1 &&
    pad.top === 0 && pad.left === 0 && (pad.bottom ?? 0) === 0 && (pad.right ?? 0) === 0 &&
    g.inHeight === g.outHeight * g.strideHeight && g.inWidth === g.outWidth * g.strideWidth;
}

/** Row-major strides of `shape`. */
function rowMajor(shape: readonly number[]): { d: number[]; s: number[] } {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) {
    s[i] = acc;
    acc *= Math.max(shape[i], 1);
  }
  return { d: [...shape], s };
}

/** A convolution's geometry as a cache key. */
export function geometryKey(g: ConvGeometry): string {
  return [
    g.batchSize,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.outChannels,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.dilationHeight,
    g.dilationWidth,
    g.padInfo.top,
    g.padInfo.left,
  ].join(",");
}
