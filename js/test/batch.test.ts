import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createBatcher } from "../src/lib/batch";

describe("createBatcher", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("coalesces many calls into at most one run per interval", () => {
    const fn = vi.fn();
    const b = createBatcher(fn, { interval: 50, raf: null });
    for (let i = 0; i < 1000; i++) b.schedule();
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(0);
    expect(fn).toHaveBeenCalledTimes(1);
    // 1 s of calls every ms: at most one run per 50 ms.
    for (let t = 0; t < 1000; t++) {
      b.schedule();
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(100);
    expect(fn.mock.calls.length).toBeGreaterThanOrEqual(20);
    expect(fn.mock.calls.length).toBeLessThanOrEqual(22);
  });

  it("waits for an animation frame when one is given", () => {
    const frames: (() => void)[] = [];
    const fn = vi.fn();
    const b = createBatcher(fn, { raf: (cb) => frames.push(cb) });
    b.schedule();
    b.schedule();
    vi.advanceTimersByTime(100);
    expect(fn).not.toHaveBeenCalled();
    expect(frames.length).toBe(1);
    frames[0]();
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("flush runs a pending call now; cancel drops it", () => {
    const fn = vi.fn();
    const b = createBatcher(fn, { raf: null });
    b.flush();
    expect(fn).not.toHaveBeenCalled();
    b.schedule();
    b.flush();
    expect(fn).toHaveBeenCalledTimes(1);
    b.schedule();
    b.cancel();
    vi.advanceTimersByTime(1000);
    b.schedule();
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
