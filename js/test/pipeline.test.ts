// @vitest-environment jsdom
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { elapsed, formatMetrics } from "../src/lib/format";
import pipeline from "../src/widgets/pipeline";
import { installLayoutStubs } from "./domstubs";
import { FakeModel } from "./fakemodel";

const q = (root: Element, id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLElement;
const qa = (root: Element, id: string) => Array.from(root.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];
const tick = () => new Promise((r) => setTimeout(r, 0));

const action = (index: number, name: string, status: string, extra: object = {}) => ({
  index, name, status, progress: status === "COMPLETED" ? 1 : 0, message: null, metrics: {},
  started_at: null, finished_at: null, error: null, ...extra,
});

const run = (status: string, actions: object[], extra: object = {}) => ({
  run_id: "raynb-demo-1", name: "demo", pipeline: "demo", status, actions, overall_progress: 0.5,
  created_at: "2026-11-23T10:00:00Z", started_at: "2026-11-23T10:00:00Z", finished_at: null,
  current_action: null, current_action_index: null, resumed_from: null, error: null, seq: 3, ...extra,
});

describe("pipeline widget", () => {
  beforeAll(installLayoutStubs);
  afterEach(() => vi.restoreAllMocks());

  it("formats elapsed times and metrics", () => {
    expect(elapsed("2026-11-23T10:00:00Z", "2026-11-23T10:00:02.5Z")).toBe("2.5 s");
    expect(elapsed(null, null)).toBe("");
    expect(formatMetrics({ loss: 0.123456, step: 3, tag: "a" })).toBe("loss=0.1235, step=3, tag=a");
  });

  it("shows one row per action, the current action's logs, and Cancel/Resume by status", async () => {
    const model = new FakeModel({
      run_id: "raynb-demo-1", error: "",
      progress: run("RUNNING", [
        action(0, "Download", "COMPLETED"),
        action(1, "Convert", "RUNNING", { progress: 0.4, message: "<b>40%</b>", metrics: { rows: 40 } }),
        action(2, "Train", "PENDING"),
      ], { current_action: "Convert", current_action_index: 1 }),
    });
    const el = document.createElement("div");
    document.body.replaceChildren(el);
    const cleanup = pipeline.render({ model, el });
    const rows = qa(el, "raynb-pl-row");
    expect(rows.map((r) => r.children[1].textContent)).toEqual(["Download", "Convert", "Train"]);
    expect(rows[1].textContent).toContain("<b>40%</b>"); // as text, never markup
    expect(rows[1].querySelector("b")).toBeNull();
    expect(rows[1].textContent).toContain("rows=40");
    expect(q(el, "raynb-pl-cancel").hidden).toBe(false);
    expect(q(el, "raynb-pl-resume").hidden).toBe(true);

    const [req] = model.requests("logs");
    model.reply(req, { run_id: "raynb-demo-1", lines: [
      { id: 1, action_index: 0, level: "info", message: "downloaded" },
      { id: 2, action_index: 1, level: "info", message: "converting" },
    ] });
    await tick();
    model.emit({ type: "logs", run_id: "raynb-demo-1", lines: [{ id: 3, action_index: 1, level: "info", message: "half" }] });
    expect(q(el, "raynb-pl-logs").textContent).toBe("convertinghalf");
    rows[0].click(); // select another action: its logs
    expect(q(el, "raynb-pl-logs").textContent).toBe("downloaded");

    model.change("progress", run("FAILED", [
      action(0, "Download", "COMPLETED"), action(1, "Convert", "FAILED", { error: "ValueError: bad" }),
      action(2, "Train", "PENDING"),
    ], { error: "Convert failed: ValueError: bad" }));
    expect(q(el, "raynb-pl-status").textContent).toBe("FAILED");
    expect(q(el, "raynb-pl-cancel").hidden).toBe(true);
    expect(q(el, "raynb-pl-resume").hidden).toBe(false);
    q(el, "raynb-pl-resume").click();
    const [resume] = model.requests("resume");
    model.reply(resume, { message: "resumed as raynb-demo-2", run_id: "raynb-demo-2" });
    await tick();
    expect(q(el, "raynb-notice").textContent).toBe("resumed as raynb-demo-2");
    model.change("run_id", "raynb-demo-2");
    expect(model.requests("logs")).toHaveLength(2); // the new run's logs are asked for
    cleanup();
    expect(model.listeners("msg:custom")).toBe(0);
  });

  it("asks before cancelling", () => {
    const model = new FakeModel({ run_id: "r", error: "", progress: run("RUNNING", [action(0, "A", "RUNNING")]) });
    const el = document.createElement("div");
    const cleanup = pipeline.render({ model, el });
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    q(el, "raynb-pl-cancel").click();
    expect(model.requests("cancel")).toHaveLength(0);
    q(el, "raynb-pl-cancel").click();
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(model.requests("cancel")).toHaveLength(1);
    cleanup();
  });
});
