// @vitest-environment jsdom
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import cluster from "../src/widgets/cluster";
import jobs from "../src/widgets/jobs";
import logview from "../src/widgets/logview";
import serve from "../src/widgets/serve";
import { installLayoutStubs } from "./domstubs";
import { FakeModel } from "./fakemodel";

const q = (root: Element, id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLElement;
const qa = (root: Element, id: string) => Array.from(root.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];
const tick = () => new Promise((r) => setTimeout(r, 0));

const cleanups: (() => void)[] = [];

function mount(widget: { render: (p: any) => () => void }, state: Record<string, any>) {
  const model = new FakeModel(state);
  const el = document.createElement("div");
  document.body.replaceChildren(el);
  const cleanup = widget.render({ model, el });
  cleanups.push(cleanup);
  return { model, el, cleanup };
}

describe("widgets", () => {
  beforeAll(installLayoutStubs);
  afterEach(() => {
    cleanups.splice(0).forEach((c) => c());
    vi.restoreAllMocks();
  });

  it("LogView resyncs on render and shows lines, header and status lines", async () => {
    const { model, el, cleanup } = mount(logview, {
      job_id: "raysubmit_1", status: "RUNNING", done: false, error: "", total: 3, dropped: 0,
      max_lines: 100_000, final: "",
    });
    const [req] = model.requests("resync");
    expect(req.args).toEqual({ stream: "raysubmit_1", from_seq: 0 });
    model.reply(req, { seq: 0, lines: ["a", "<b>bold?</b>", "c"], dropped: 0 });
    await tick();
    model.emit({ type: "lines", stream: "raysubmit_1", seq: 3, lines: ["d"], dropped: 0 });
    await new Promise((r) => setTimeout(r, 80));
    expect(qa(el, "raynb-log-line").map((r) => r.textContent)).toEqual(["a", "<b>bold?</b>", "c", "d"]);
    expect(q(el, "raynb-job-id").textContent).toBe("raysubmit_1");
    expect(q(el, "raynb-status").textContent).toBe("RUNNING");
    expect(q(el, "raynb-live").hidden).toBe(false);
    model.change("done", true);
    expect(q(el, "raynb-live").hidden).toBe(true);
    model.change("status", "FAILED");
    model.change("final", "✖ FAILED (exit code 1): boom");
    model.change("error", "dashboard unreachable\ntrace");
    expect(q(el, "raynb-status").className).toContain("raynb-chip-err");
    expect(q(el, "raynb-final").textContent).toBe("✖ FAILED (exit code 1): boom");
    expect(q(el, "raynb-final").className).toContain("raynb-final-err");
    expect(q(el, "raynb-error").textContent).toBe("dashboard unreachable");
    cleanup();
    expect(model.listeners("msg:custom")).toBe(0);
  });

  it("LogView opened at the end asks the kernel for earlier lines and prepends them", async () => {
    const { model, el } = mount(logview, {
      job_id: "raysubmit_1", status: "RUNNING", done: false, error: "", total: 2, dropped: 0,
      max_lines: 100_000, final: "", from_start: false,
    });
    model.reply(model.requests("resync")[0], { seq: 0, lines: ["l98", "l99"], dropped: 0 });
    await tick();
    (q(el, "raynb-earlier") as HTMLButtonElement).click();
    const [first] = model.requests("earlier");
    expect(first.args).toEqual({ stream: "raysubmit_1", have: 0, n: 1000 });
    model.reply(first, { lines: ["l96", "l97"], at_start: false });
    await tick();
    (q(el, "raynb-earlier") as HTMLButtonElement).click();
    const second = model.requests("earlier")[1];
    expect(second.args).toEqual({ stream: "raysubmit_1", have: 2, n: 1000 });
    model.reply(second, { lines: ["l95"], at_start: true });
    await new Promise((r) => setTimeout(r, 80));
    expect(qa(el, "raynb-log-line").map((r) => r.textContent)).toEqual(["l95", "l96", "l97", "l98", "l99"]);
    expect(q(el, "raynb-earlier").hidden).toBe(true);
    model.change("from_start", true); // a log shorter than the tail: nothing to load
    expect(q(el, "raynb-earlier").hidden).toBe(true);
  });

  const JOBS = [
    { id: "raysubmit_a", status: "RUNNING", type: "SUBMISSION", entrypoint: "python a.py", message: "",
      start_time: Date.now() - 65_000, end_time: null, driver_exit_code: null },
    { id: "raysubmit_b", status: "SUCCEEDED", type: "SUBMISSION", entrypoint: "python <b>.py", message: "done",
      start_time: Date.now() - 3_600_000, end_time: Date.now() - 3_000_000, driver_exit_code: 0 },
  ];

  it("JobsTable shows jobs with actions, sorts, filters and sends requests", async () => {
    const { model, el, cleanup } = mount(jobs, { jobs: JOBS, error: "", last_refresh: Date.now() / 1000, visible: false, log_job: "", log_status: "", log_final: "" });
    expect(model.get("visible")).toBe(true);
    const ids = () => qa(el, "raynb-job-row").map((r) => r.dataset.jobId);
    expect(ids()).toEqual(["raysubmit_a", "raysubmit_b"]); // newest first
    const [a, b] = qa(el, "raynb-job-row");
    expect(q(a, "raynb-stop")).not.toBeNull();
    expect(q(a, "raynb-delete")).toBeNull();
    expect(q(b, "raynb-delete")).not.toBeNull();
    expect(q(b, "raynb-stop")).toBeNull();
    expect(b.textContent).toContain("python <b>.py");
    expect(a.textContent).toContain("1 min 5 s");

    (el.querySelector("th") as HTMLElement).click(); // sort by ID ascending, then descending
    (el.querySelector("th") as HTMLElement).click();
    expect(ids()).toEqual(["raysubmit_b", "raysubmit_a"]);

    const filter = q(el, "raynb-jobs-filter") as HTMLInputElement;
    filter.value = "SUCCEEDED";
    filter.dispatchEvent(new Event("input"));
    expect(ids()).toEqual(["raysubmit_b"]);
    filter.value = "";
    filter.dispatchEvent(new Event("input"));

    vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    q(a, "raynb-stop").click();
    expect(model.requests("stop")).toEqual([]);
    q(a, "raynb-stop").click();
    const [stop] = model.requests("stop");
    expect(stop.args).toEqual({ job_id: "raysubmit_a" });
    model.reply(stop, { message: "Stop requested for raysubmit_a" });
    await tick();
    expect(q(el, "raynb-notice").textContent).toBe("Stop requested for raysubmit_a");

    q(b, "raynb-logs").click();
    expect(model.requests("logs")[0].args).toEqual({ job_id: "raysubmit_b" });
    model.change("log_job", "raysubmit_b");
    model.emit({ type: "reset", stream: "raysubmit_b" });
    model.emit({ type: "lines", stream: "raysubmit_b", seq: 0, lines: ["hello from b"], dropped: 0 });
    await new Promise((r) => setTimeout(r, 80));
    expect(qa(el, "raynb-log-line").map((r) => r.textContent)).toEqual(["hello from b"]);

    model.change("jobs", [{ ...JOBS[0], status: "STOPPED", end_time: Date.now() }]);
    expect(ids()).toEqual(["raysubmit_a"]);
    expect(q(el, "raynb-delete")).not.toBeNull();
    model.change("error", "Ray dashboard unreachable");
    expect(q(el, "raynb-error").textContent).toBe("Ray dashboard unreachable");
    cleanup();
    expect(model.get("visible")).toBe(false);
  });

  it("ClusterPanel shows totals, pending demand and nodes as text", () => {
    const GiB = 2 ** 30;
    const { el } = mount(cluster, {
      totals: { CPU: [0, 2], memory: [GiB, 4 * GiB], object_store_memory: [0, 2 * GiB], "node:127.0.0.1": [0, 1] },
      pending: [],
      nodes: [{ node_id: "n1", hostname: "<img src=x onerror=alert(1)>", ip: "127.0.0.1", is_head: true, state: "ALIVE",
        cpus: [1, 2], resources: { CPU: [1, 2], worker_node: [0, 1] }, host_cpu_percent: 12.5, host_cpus: 8,
        memory: [GiB, 4 * GiB], object_store: [0, 2 * GiB],
        gpus: [{ name: "A100", utilization: 50, memory: [0, 40 * GiB] }] }],
      error: "", visible: true, last_refresh: 0,
    });
    expect(q(el, "raynb-cluster")).not.toBeNull();
    expect(q(el, "raynb-total-CPU").textContent).toContain("0 / 2");
    expect(q(el, "raynb-total-memory").textContent).toContain("1.0 GiB / 4.0 GiB");
    expect(q(el, "raynb-total-node:127.0.0.1")).toBeNull();
    expect(q(el, "raynb-pending").textContent).toBe("none");
    const [row] = qa(el, "raynb-node-row");
    expect(row.dataset.nodeId).toBe("n1");
    expect(row.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(row.textContent).toContain("Ray 1 / 2 CPU");  // Ray's logical CPUs
    expect(row.textContent).toContain("host 13% of 8 cores");  // the machine's, labelled apart
    expect(row.textContent).toContain("worker_node 0/1");
    expect(row.textContent).toContain("GPU0 50%");
    expect(el.querySelector("img")).toBeNull();
  });

  it("ServePanel lists apps and deletes with confirmation", () => {
    const { model, el } = mount(serve, {
      apps: [{ name: "app1", status: "RUNNING", route_prefix: "/", message: "", last_deployed_time_s: Date.now() / 1000 - 120,
        deployments: [{ name: "Model", status: "HEALTHY", replicas: 2 }] }],
      error: "", visible: true, last_refresh: 0,
    });
    const [row] = qa(el, "raynb-app-row");
    expect(row.textContent).toContain("Model");
    expect(row.textContent).toContain("2 replicas");
    expect(row.textContent).toContain("2 min ago");
    vi.spyOn(window, "confirm").mockReturnValue(true);
    q(row, "raynb-delete-app").click();
    expect(model.requests("delete_app")[0].args).toEqual({ name: "app1" });
  });
});
