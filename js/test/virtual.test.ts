import { describe, expect, it } from "vitest";
import { computeLayout, MAX_SCROLL_PX, scrollTopFor } from "../src/lib/virtual";

describe("virtual layout", () => {
  it("renders only the rows in view plus overscan", () => {
    const l = computeLayout(1000, 20, 200, 400, 2);
    expect(l.total).toBe(20_000);
    expect(l.ratio).toBe(1);
    expect([l.first, l.last]).toEqual([18, 32]);
    expect(l.top(20)).toBe(400);
  });

  it("scales scrolling for 1,000,000 rows beyond the browser's height limit", () => {
    const n = 1_000_000;
    const l = computeLayout(n, 19, 400, MAX_SCROLL_PX, 6);
    expect(l.total).toBe(MAX_SCROLL_PX);
    expect(l.ratio).toBeGreaterThan(2);
    expect(l.last).toBe(n);
    expect(l.last - l.first).toBeLessThan(40);
    // the last row's bottom is the viewport's bottom
    expect(l.top(n - 1) + 19).toBeCloseTo(MAX_SCROLL_PX, 3);
    const mid = computeLayout(n, 19, 400, MAX_SCROLL_PX / 2, 0);
    expect(mid.first).toBeGreaterThan(n * 0.45);
    expect(mid.first).toBeLessThan(n * 0.55);
  });

  it("scrollTopFor inverts the scaling and clamps", () => {
    const n = 1_000_000;
    const st = scrollTopFor(500_000 * 19, n, 19, 400);
    expect(computeLayout(n, 19, 400, st, 0).first).toBe(500_000);
    expect(scrollTopFor(1e12, 10, 20, 100)).toBe(100);
    expect(scrollTopFor(50, 3, 20, 100)).toBe(0);
  });
});
