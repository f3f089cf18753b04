/**
 * Waiting for file descriptors to become readable without blocking Deno's event loop: poll(2) from
 * libc, called through Deno's FFI with `nonblocking: true`, so it blocks a thread of Deno's own
 * pool and settles a promise when a descriptor is ready. The kernel waits this way on ZeroMQ's
 * ZMQ_FD descriptors (see sockets.ts), which wake nothing under Deno otherwise.
 *
 * Needs the `ffi` permission and a POSIX libc (Linux, macOS); {@linkcode FdWaiter.open} returns
 * `undefined` where either is missing, and callers fall back to timers.
 *
 * @example
 * ```ts
 * const waiter = FdWaiter.open();
 * if (waiter) {
 *   await waiter.wait([fd], 250); // fd readable, waiter.wake() called, or 250 ms passed
 *   await waiter.close();
 * }
 * ```
 * @module
 */

const SYMBOLS = {
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  pipe: { parameters: ["buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

/** poll(2)'s POLLIN and POLLNVAL: the same values on Linux and macOS. */
const POLLIN = 1;
const POLLNVAL = 0x20;
/** Bytes of one `struct pollfd { int fd; short events; short revents; }`. */
const POLLFD_BYTES = 8;

function libcPath(): string | undefined {
  switch (Deno.build.os) {
    case "linux":
      return "libc.so.6";
    case "darwin":
      return "libSystem.B.dylib";
    default:
      return undefined;
  }
}

/** Linux's O_CLOEXEC (x86-64 and arm64 alike). */
const O_CLOEXEC = 0o2000000;

/**
 * pipe(2) into `fds`; on Linux pipe2(2) with O_CLOEXEC, so that processes the cells start do not
 * inherit the wake pipe (macOS has no pipe2, and fcntl is variadic, which FFI cannot call safely
 * on every ABI: there the pipe is inherited, harmlessly).
 */
function createPipe(path: string, lib: Libc, fds: Uint8Array): number {
  if (Deno.build.os !== "linux") return lib.symbols.pipe(fds);
  const linux = Deno.dlopen(path, { pipe2: { parameters: ["buffer", "i32"], result: "i32" } });
  try {
    return linux.symbols.pipe2(fds, O_CLOEXEC);
  } finally {
    linux.close();
  }
}

/**
 * Waits on sets of file descriptors in poll(2), one wait at a time, and can be woken early from
 * the event loop through a pipe of its own.
 */
export class FdWaiter {
  readonly #lib: Libc;
  readonly #wakeRead: number;
  readonly #wakeWrite: number;
  readonly #byte = new Uint8Array(1);
  readonly #drain = new Uint8Array(64);
  /** The poll(2) call in flight, if any. */
  #pending: Promise<number> | undefined;
  #woken = false;
  #closed = false;

  private constructor(lib: Libc, wakeRead: number, wakeWrite: number) {
    this.#lib = lib;
    this.#wakeRead = wakeRead;
    this.#wakeWrite = wakeWrite;
  }

  /**
   * A waiter, or `undefined` when this process cannot have one (no `ffi` permission, no POSIX
   * libc, or `TESKD_KERNEL_POLL=timer` in the environment, which tests and users can set to rule
   * this mechanism out).
   */
  static open(): FdWaiter | undefined {
    const path = libcPath();
    // struct pollfd is written little-endian below, as on every platform Deno runs on.
    const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    if (path === undefined || !littleEndian) return undefined;
    try {
      if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
      if (
        Deno.permissions.querySync({ name: "env", variable: "TESKD_KERNEL_POLL" }).state ===
          "granted" && Deno.env.get("TESKD_KERNEL_POLL") === "timer"
      ) return undefined;
    } catch {
      return undefined;
    }
    let lib: Libc;
    try {
      lib = Deno.dlopen(path, SYMBOLS);
    } catch {
      return undefined;
    }
    const fds = new Int32Array(2);
    if (createPipe(path, lib, new Uint8Array(fds.buffer)) !== 0) {
      lib.close();
      return undefined;
    }
    return new FdWaiter(lib, fds[0], fds[1]);
  }

  /**
   * Settles when one of `fds` is readable, {@linkcode wake} was called, or `timeoutMs` passed
   * (whichever comes first), with the outcome: `"ok"`; `"failed"` when poll(2) returned an error
   * (a signal may interrupt it: try again); `"invalid"` when one of `fds` is not an open descriptor
   * (every later wait on them would return at once). Only one wait may be in flight.
   */
  async wait(fds: readonly number[], timeoutMs: number): Promise<"ok" | "failed" | "invalid"> {
    if (this.#closed) throw new Error("FdWaiter: wait() after close()");
    if (this.#pending) throw new Error("FdWaiter: a wait is already in flight");
    const set = new Uint8Array((fds.length + 1) * POLLFD_BYTES);
    const view = new DataView(set.buffer);
    [this.#wakeRead, ...fds].forEach((fd, i) => {
      view.setInt32(i * POLLFD_BYTES, fd, true);
      view.setInt16(i * POLLFD_BYTES + 4, POLLIN, true);
    });
    this.#woken = false;
    this.#pending = this.#lib.symbols.poll(set, BigInt(fds.length + 1), Math.max(0, timeoutMs));
    let result: number;
    try {
      result = await this.#pending;
    } finally {
      this.#pending = undefined;
    }
    // The wake pipe is read only when poll(2) said it holds bytes, so read() never blocks.
    if (view.getInt16(6, true) & POLLIN) this.#lib.symbols.read(this.#wakeRead, this.#drain, 64n);
    this.#woken = false;
    if (result < 0) return "failed";
    for (let i = 0; i <= fds.length; i++) {
      if (view.getInt16(i * POLLFD_BYTES + 6, true) & POLLNVAL) return "invalid";
    }
    return "ok";
  }

  /** Ends the wait in flight at once (no effect when none is, or after close()). */
  wake(): void {
    if (this.#closed || !this.#pending || this.#woken) return;
    this.#woken = true;
    this.#lib.symbols.write(this.#wakeWrite, this.#byte, 1n);
  }

  /** Ends the wait in flight, then releases the pipe and libc. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.wake();
    this.#closed = true;
    await this.#pending?.catch(() => {});
    this.#lib.symbols.close(this.#wakeRead);
    this.#lib.symbols.close(this.#wakeWrite);
    this.#lib.close();
  }
}
