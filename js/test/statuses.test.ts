// @vitest-environment jsdom
// Every status of raynb/tables.json (and a few it reaches only by prefix or word) rendered by the
// widgets themselves: JobsTable, ClusterPanel and PipelineProgress chips read a job's, a node's
// or an action's status, ServePanel's an application's and a deployment's. With
// RAYNB_STATUS_CLASSES=<file> the chip classes found are written there as JSON:
// tests/test_tables.py compares them with the classes of Python's snapshots.
import { writeFileSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import TABLES from "../../raynb/tables.json";
import { statusKind } from "../src/lib/format";
import cluster from "../src/widgets/cluster";
import jobs from "../src/widgets/jobs";
import pipeline from "../src/widgets/pipeline";
import serve from "../src/widgets/serve";
import { installLayoutStubs } from "./domstubs";
import { FakeModel } from "./fakemodel";

/** Statuses no table names: a newer Ray's, or a task's and an actor's long ones. */
export const EXTRA = ["PENDING_NODE_ASSIGNMENT", "RUNNING_IN_RAY_GET", "SUBMITTED_TO_WORKER", "DEPENDENCIES_UNREADY",
  "RESTARTING", "SOMETHING_FAILED", "INTERNAL_ERROR", "UNKNOWN", "NEW_IN_RAY_99"];  // prettier-ignore
const ALL = [...new Set([...Object.keys(TABLES.statuses), ...Object.keys(TABLES.serve_statuses), ...EXTRA])];

const cleanups: (() => void)[] = [];

function mount(widget: { render: (p: any) => () => void }, state: Record<string, any>): HTMLElement {
  const el = document.createElement("div");
  document.body.replaceChildren(el);
  cleanups.push(widget.render({ model: new FakeModel(state), el }));
  return el;
}

/** The kind class of each chip in `el`, in document order. */
const kinds = (el: Element) =>
  Array.from(el.querySelectorAll(".raynb-chip")).map((c) => Array.from(c.classList).find((k) => k.startsWith("raynb-chip-")));

function inJobs(status: string) {
  const el = mount(jobs, {
    jobs: [{ id: "raysubmit_1", status, type: "SUBMISSION", entrypoint: "python x.py", message: "", start_time: 1,
      end_time: null, driver_exit_code: null }],  // prettier-ignore
    error: "", last_refresh: 0, visible: true, log_job: "", log_status: "", log_final: "",
  });
  return kinds(el.querySelector('[data-testid="raynb-job-row"]')!)[0];
}

function inCluster(status: string) {
  const el = mount(cluster, {
    totals: {}, pending: [], error: "", visible: true, last_refresh: 0,
    nodes: [{ node_id: "n1", hostname: "h", ip: "127.0.0.1", is_head: true, state: status, cpus: [0, 1], resources: {},
      host_cpu_percent: null, host_cpus: null, memory: [0, 0], object_store: [0, 0], gpus: [] }],  // prettier-ignore
  });
  return kinds(el.querySelector('[data-testid="raynb-node-row"]')!)[0];
}

function inPipeline(status: string) {
  const action = { index: 0, name: "a", status, progress: 0, message: null, metrics: {}, started_at: null,
    finished_at: null, error: null };  // prettier-ignore
  const el = mount(pipeline, { run_id: "r", error: "", progress: { run_id: "r", name: "p", status: "RUNNING",
    actions: [action], overall_progress: 0, created_at: null, started_at: null, finished_at: null,
    current_action: null, current_action_index: null, resumed_from: null, error: null } });  // prettier-ignore
  return kinds(el.querySelector('[data-testid="raynb-pl-row"]')!)[0];
}

/** [the application's chip, its deployment's chip]. */
function inServe(status: string) {
  const el = mount(serve, {
    apps: [{ name: "app", status, route_prefix: "/", message: "", last_deployed_time_s: null,
      deployments: [{ name: "D", status, replicas: 1 }] }],  // prettier-ignore
    error: "", visible: true, last_refresh: 0,
  });
  return kinds(el.querySelector('[data-testid="raynb-app-row"]')!);
}

describe("status colours in the widgets", () => {
  beforeAll(installLayoutStubs);
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it("every widget gives every status the class of its kind in raynb/tables.json", () => {
    const found: Record<"statuses" | "serve_statuses", Record<string, string>> = { statuses: {}, serve_statuses: {} };
    for (const status of ALL) {
      const generic = `raynb-chip-${statusKind(status)}`;
      const served = `raynb-chip-${statusKind(status, true)}`;
      expect([inJobs(status), inCluster(status), inPipeline(status)], status).toEqual([generic, generic, generic]);
      expect(inServe(status), status).toEqual([served, served]);
      found.statuses[status] = generic;
      found.serve_statuses[status] = served;
    }
    // The table, read here as Python reads it: named statuses first, then prefixes and words.
    expect(found.statuses.RUNNING).toBe("raynb-chip-run"); // a job at work
    expect(found.serve_statuses.RUNNING).toBe("raynb-chip-ok"); // a Serve application that is up
    expect(found.statuses.PENDING_NODE_ASSIGNMENT).toBe("raynb-chip-warn");
    expect(found.statuses.SOMETHING_FAILED).toBe("raynb-chip-err");
    expect(found.statuses.NEW_IN_RAY_99).toBe("raynb-chip-idle");
    for (const [status, kind] of Object.entries(TABLES.statuses)) expect(found.statuses[status]).toBe(`raynb-chip-${kind}`);
    for (const [status, kind] of Object.entries(TABLES.serve_statuses)) {
      expect(found.serve_statuses[status]).toBe(`raynb-chip-${kind}`);
    }
    const out = process.env.RAYNB_STATUS_CLASSES;
    if (out) writeFileSync(out, JSON.stringify(found));
  }, 60_000);
});
