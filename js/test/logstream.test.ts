import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LogPanel } from "../src/lib/logpanel";
import { LogStream } from "../src/lib/logstream";
import { RequestClient } from "../src/lib/requests";
import { LineRing } from "../src/lib/ringbuffer";
import { FakeModel } from "./fakemodel";

/** The LogPanel surface LogStream uses, over a plain ring. */
class FakePanel {
  ring = new LineRing(1000);
  notice = "";
  name = "";
  get nextSeq() {
    return this.ring.nextSeq;
  }
  get capacity() {
    return this.ring.capacity;
  }
  push(seq: number, lines: string[], force = false) {
    return this.ring.push(seq, lines, force);
  }
  reset() {
    this.ring.clear();
  }
  setName(n: string) {
    this.name = n;
  }
  setNotice(t: string) {
    this.notice = t;
  }
}

const L = (from: number, n: number) => Array.from({ length: n }, (_, i) => `l${from + i}`);
const flush = () => Promise.resolve().then(() => Promise.resolve());

function setup() {
  const model = new FakeModel();
  const panel = new FakePanel();
  const client = new RequestClient(model, { firstId: 1 });
  const stream = new LogStream(model, client, panel as unknown as LogPanel);
  return { model, panel, client, stream };
}

describe("LogStream", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("resyncs from 0 when it starts, accepting contiguous lines meanwhile", async () => {
    const { model, panel, stream } = setup();
    stream.setStream("job1");
    expect(model.requests("resync")).toEqual([
      { type: "request", id: 1, method: "resync", args: { stream: "job1", from_seq: 0 } },
    ]);
    model.emit({ type: "lines", stream: "job1", seq: 0, lines: L(0, 2), dropped: 0 });
    model.emit({ type: "lines", stream: "other", seq: 0, lines: ["nope"], dropped: 0 });
    model.reply(model.requests("resync")[0], { seq: 0, lines: L(0, 3), dropped: 0 });
    await flush();
    model.emit({ type: "lines", stream: "job1", seq: 3, lines: L(3, 1), dropped: 0 });
    expect(panel.ring.slice()).toEqual(L(0, 4));
    expect(panel.name).toBe("job1");
  });

  it("holds batches after a gap, resyncs from the next seq, then applies them in order", async () => {
    const { model, panel, stream } = setup();
    stream.setStream("j");
    model.reply(model.requests("resync")[0], { seq: 0, lines: L(0, 2), dropped: 0 });
    await flush();
    model.emit({ type: "lines", stream: "j", seq: 5, lines: L(5, 2), dropped: 0 });
    model.emit({ type: "lines", stream: "j", seq: 7, lines: L(7, 1), dropped: 0 });
    const req = model.requests("resync");
    expect(req.length).toBe(2);
    expect(req[1].args).toEqual({ stream: "j", from_seq: 2 });
    expect(panel.ring.size).toBe(2);
    model.reply(req[1], { seq: 2, lines: L(2, 5), dropped: 0 });
    await flush();
    expect(panel.ring.slice()).toEqual(L(0, 8));
    expect(panel.ring.dropped).toBe(0);
  });

  it("counts lines the kernel no longer holds as dropped", async () => {
    const { model, panel, stream } = setup();
    stream.setStream("j");
    model.reply(model.requests("resync")[0], { seq: 40, lines: L(40, 2), dropped: 40 });
    await flush();
    expect(panel.ring.dropped).toBe(40);
  });

  it("shows held batches when the kernel does not answer (hole counts as dropped)", async () => {
    const { model, panel, stream } = setup();
    stream.setStream("j");
    model.emit({ type: "lines", stream: "j", seq: 10, lines: L(10, 2), dropped: 0 });
    expect(panel.ring.size).toBe(0);
    vi.advanceTimersByTime(5001);
    await flush();
    expect(panel.ring.slice()).toEqual(L(10, 2));
    expect(panel.ring.dropped).toBe(10);
    model.emit({ type: "lines", stream: "j", seq: 12, lines: L(12, 1), dropped: 0 });
    expect(panel.ring.size).toBe(3);
  });

  it("retries a failed resync that showed nothing, with a notice", async () => {
    const { model, panel, stream } = setup();
    stream.setStream("j");
    vi.advanceTimersByTime(5001);
    await flush();
    expect(panel.notice).toMatch(/^Could not load earlier lines: resync: no reply/);
    vi.advanceTimersByTime(2000);
    expect(model.requests("resync").length).toBe(2);
    expect(panel.notice).toBe("");
  });

  it("reset switches the stream, clears and ignores stale replies", async () => {
    const { model, panel, stream } = setup();
    stream.setStream("a");
    const first = model.requests("resync")[0];
    model.emit({ type: "lines", stream: "a", seq: 0, lines: ["a0"], dropped: 0 });
    model.emit({ type: "reset", stream: "b" });
    expect(stream.current).toBe("b");
    expect(panel.ring.size).toBe(0);
    model.reply(first, { seq: 0, lines: ["stale"], dropped: 0 });
    await flush();
    expect(panel.ring.size).toBe(0);
    model.emit({ type: "lines", stream: "b", seq: 0, lines: ["b0"], dropped: 0 });
    expect(panel.ring.slice()).toEqual(["b0"]);
    expect(model.requests("resync").at(-1).args).toEqual({ stream: "b", from_seq: 0 });
  });

  it("dispose stops listening", () => {
    const { model, stream, client } = setup();
    stream.dispose();
    client.dispose();
    expect(model.listeners("msg:custom")).toBe(0);
  });
});
