// Coalesces many "something changed" calls into at most one run per interval, aligned to an
// animation frame when the browser has one (no frames in a hidden tab: the run waits).

export interface BatcherOptions {
  /** Minimum ms between two runs (default 50). */
  interval?: number;
  /** Frame scheduler; default requestAnimationFrame when defined, else none. */
  raf?: ((cb: () => void) => unknown) | null;
  now?: () => number;
}

export interface Batcher {
  /** Requests a run; calls before it happens are merged into it. */
  schedule(): void;
  /** Runs now if a run is pending. */
  flush(): void;
  /** Drops the pending run and stops scheduling. */
  cancel(): void;
}

export function createBatcher(fn: () => void, opts: BatcherOptions = {}): Batcher {
  const interval = opts.interval ?? 50;
  const raf =
    opts.raf !== undefined
      ? opts.raf
      : typeof requestAnimationFrame === "function"
        ? (cb: () => void) => requestAnimationFrame(cb)
        : null;
  const now = opts.now ?? (() => Date.now());
  let pending = false;
  let cancelled = false;
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const run = () => {
    if (!pending || cancelled) return;
    pending = false;
    last = now();
    fn();
  };
  const onTimer = () => {
    timer = null;
    if (raf) raf(run);
    else run();
  };

  return {
    schedule() {
      if (pending || cancelled) return;
      pending = true;
      timer = setTimeout(onTimer, Math.max(0, last + interval - now()));
    },
    flush() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      run();
    },
    cancel() {
      cancelled = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
