import { describe, expect, it } from "vitest";
import { FilterIndex, LineRing } from "../src/lib/ringbuffer";

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `line ${from + i}`);

describe("LineRing", () => {
  it("appends consecutive batches and ignores lines already held", () => {
    const r = new LineRing(10);
    expect(r.push(0, lines(0, 3))).toEqual({ added: 3, gap: null });
    expect(r.push(2, lines(2, 3))).toEqual({ added: 2, gap: null }); // seq 2 is a duplicate
    expect(r.push(1, lines(1, 2))).toEqual({ added: 0, gap: null });
    expect(r.slice()).toEqual(lines(0, 5));
    expect(r.nextSeq).toBe(5);
    expect(r.dropped).toBe(0);
  });

  it("refuses a batch after a gap and returns the missing range", () => {
    const r = new LineRing(10);
    r.push(0, lines(0, 2));
    expect(r.push(5, lines(5, 2))).toEqual({ added: 0, gap: { from: 2, to: 5 } });
    expect(r.size).toBe(2);
    expect(r.nextSeq).toBe(2);
  });

  it("accepts a forced gap and counts it as dropped", () => {
    const r = new LineRing(10);
    r.push(0, lines(0, 2));
    expect(r.push(5, lines(5, 2), true)).toEqual({ added: 2, gap: null });
    expect(r.slice()).toEqual(["line 0", "line 1", "line 5", "line 6"]);
    expect(r.nextSeq).toBe(7);
    expect(r.dropped).toBe(3);
  });

  it("counts lines the kernel no longer held as dropped (first batch after seq 0)", () => {
    const r = new LineRing(10);
    expect(r.push(100, lines(100, 3)).gap).toEqual({ from: 0, to: 100 });
    r.push(100, lines(100, 3), true);
    expect(r.dropped).toBe(100);
    expect(r.get(r.firstOrdinal)).toBe("line 100");
  });

  it("evicts the oldest lines at capacity and counts them as dropped", () => {
    const r = new LineRing(4);
    r.push(0, lines(0, 3));
    r.push(3, lines(3, 3));
    expect(r.size).toBe(4);
    expect(r.slice()).toEqual(lines(2, 4));
    expect(r.dropped).toBe(2);
    expect(r.get(r.firstOrdinal - 1)).toBeUndefined();
    expect(r.slice(r.firstOrdinal + 1, r.firstOrdinal + 3)).toEqual(["line 3", "line 4"]);
  });

  it("prepends earlier lines while it holds seq 0 and has room; evicts them first", () => {
    const r = new LineRing(6);
    r.push(0, lines(10, 2));
    const first = r.firstOrdinal;
    expect(r.roomBefore).toBe(4);
    expect(r.prepend(lines(7, 3))).toBe(true);
    expect(r.slice()).toEqual(lines(7, 5));
    expect(r.get(first)).toBe("line 10"); // held lines keep their ordinals
    expect(r.nextSeq).toBe(2);
    expect(r.dropped).toBe(0);
    expect(r.prepend(lines(5, 2))).toBe(false); // only 1 slot left
    r.push(2, lines(12, 2)); // full: evicts line 7
    expect(r.slice()).toEqual(lines(8, 6));
    expect(r.dropped).toBe(1);
    expect(r.roomBefore).toBe(0); // a hole before the first held line now
    r.clear();
    expect(r.dropped).toBe(0);
    expect(r.roomBefore).toBe(6);
  });

  it("refuses earlier lines once seq 0 is not held", () => {
    const r = new LineRing(10);
    r.push(3, lines(3, 2), true);
    expect(r.roomBefore).toBe(0);
    expect(r.prepend(["x"])).toBe(false);
  });

  it("stays bounded over 1,000,000 pushes", () => {
    const r = new LineRing(1000);
    for (let i = 0; i < 1_000_000; i++) r.push(i, [`l${i}`]);
    expect(r.size).toBe(1000);
    expect(r.nextSeq).toBe(1_000_000);
    expect(r.dropped).toBe(999_000);
    expect(r.get(r.firstOrdinal)).toBe("l999000");
    expect(r.get(r.endOrdinal - 1)).toBe("l999999");
    expect((r as any).buf.length).toBe(1000);
  });

  it("holds 1,000,000 lines at capacity 1,000,000", () => {
    const r = new LineRing(1_000_000);
    const batch = lines(0, 1000);
    for (let s = 0; s < 1_200_000; s += 1000) r.push(s, batch);
    expect(r.size).toBe(1_000_000);
    expect(r.dropped).toBe(200_000);
  });

  it("filters held lines", () => {
    const r = new LineRing(5);
    r.push(0, ["a", "bx", "c", "dx", "e", "fx"]);
    expect(r.filter((l) => l.includes("x")).map((o) => r.get(o))).toEqual(["bx", "dx", "fx"]);
  });

  it("clear() restarts at seq 0; resize() keeps the newest lines", () => {
    const r = new LineRing(5);
    r.push(0, lines(0, 5));
    r.resize(3);
    expect(r.slice()).toEqual(lines(2, 3));
    expect(r.dropped).toBe(2);
    r.push(5, lines(5, 1));
    expect(r.slice()).toEqual(lines(3, 3));
    r.resize(10);
    r.push(6, lines(6, 2));
    expect(r.slice()).toEqual(lines(3, 5));
    const gen = r.generation;
    r.clear();
    expect(r.size).toBe(0);
    expect(r.nextSeq).toBe(0);
    expect(r.generation).toBe(gen + 1);
    expect(r.push(0, ["x"]).added).toBe(1);
  });
});

describe("FilterIndex", () => {
  it("tracks matches incrementally, across eviction and clear", () => {
    const r = new LineRing(4);
    const idx = new FilterIndex(r);
    idx.setPredicate((l) => l.includes("!"));
    r.push(0, ["a!", "b", "c!"]);
    idx.update();
    expect(idx.length).toBe(2);
    r.push(3, ["d!", "e", "f!"]); // evicts a!, b
    idx.update();
    expect(Array.from({ length: idx.length }, (_, i) => r.get(idx.at(i)))).toEqual(["c!", "d!", "f!"]);
    expect(idx.indexOf(idx.at(1))).toBe(1);
    expect(idx.indexOf(idx.at(2) + 1)).toBe(3);
    r.clear();
    r.push(0, ["z!"]);
    idx.update();
    expect(idx.length).toBe(1);
    idx.setPredicate(null);
    expect(idx.active).toBe(false);
  });

  it("rescans after earlier lines are prepended", () => {
    const r = new LineRing(10);
    const idx = new FilterIndex(r);
    idx.setPredicate((l) => l.includes("!"));
    r.push(0, ["c!", "d"]);
    idx.update();
    r.prepend(["a!", "b"]);
    idx.update();
    expect(Array.from({ length: idx.length }, (_, i) => r.get(idx.at(i)))).toEqual(["a!", "c!"]);
  });

  it("stays bounded while 1,000,000 lines stream through a small ring", () => {
    const r = new LineRing(1000);
    const idx = new FilterIndex(r);
    idx.setPredicate((l) => l.endsWith("7"));
    for (let s = 0; s < 1_000_000; s += 100) {
      r.push(s, Array.from({ length: 100 }, (_, i) => String(s + i)));
      idx.update();
    }
    expect(idx.length).toBe(100);
    expect((idx as any).ords.length).toBeLessThan(10_000);
  });
});
