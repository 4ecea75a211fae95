import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { oneLine, RequestClient } from "../src/lib/requests";
import { FakeModel } from "./fakemodel";

describe("RequestClient", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("sends increasing ids and matches replies by id", async () => {
    const m = new FakeModel();
    const c = new RequestClient(m, { firstId: 7 });
    const a = c.request("stop", { job_id: "j1" });
    const b = c.request("delete", { job_id: "j2" });
    expect(m.sent).toEqual([
      { type: "request", id: 7, method: "stop", args: { job_id: "j1" } },
      { type: "request", id: 8, method: "delete", args: { job_id: "j2" } },
    ]);
    m.emit({ type: "reply", id: 99, ok: true, result: "not ours" });
    m.emit({ type: "lines", stream: "x", seq: 0, lines: [] });
    m.emit({ type: "reply", id: 8, ok: false, error: "no such job\nTraceback..." });
    m.emit({ type: "reply", id: 7, ok: true, result: { message: "stopped" } });
    await expect(a).resolves.toEqual({ message: "stopped" });
    await expect(b).rejects.toThrow(/^no such job$/);
  });

  it("rejects with a one-line message on timeout and ignores a late reply", async () => {
    const m = new FakeModel();
    const c = new RequestClient(m, { timeoutMs: 2000 });
    const p = c.request("resync", { stream: "s", from_seq: 0 });
    const id = m.sent[0].id;
    vi.advanceTimersByTime(2001);
    await expect(p).rejects.toThrow("resync: no reply from the kernel in 2 s (is it busy?)");
    m.emit({ type: "reply", id, ok: true, result: {} }); // no throw
  });

  it("random first ids keep two views apart; dispose rejects and unsubscribes", async () => {
    const m = new FakeModel();
    const c1 = new RequestClient(m);
    const c2 = new RequestClient(m);
    const p1 = c1.request("refresh");
    const p2 = c2.request("refresh");
    expect(m.sent[0].id).not.toBe(m.sent[1].id);
    expect(Number.isSafeInteger(m.sent[0].id)).toBe(true);
    m.emit({ type: "reply", id: m.sent[1].id, ok: true, result: 2 });
    await expect(p2).resolves.toBe(2);
    c1.dispose();
    await expect(p1).rejects.toThrow("closed");
    expect(m.listeners("msg:custom")).toBe(1);
    c2.dispose();
    expect(m.listeners("msg:custom")).toBe(0);
  });

  it("oneLine", () => {
    expect(oneLine(new Error("\n  first\nsecond"))).toBe("first");
    expect(oneLine("x")).toBe("x");
  });
});
