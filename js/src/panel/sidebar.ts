// The "Ray" sidebar: connection, cluster summary, jobs (click: logs tab; Stop with a
// confirmation) and Serve applications. Polls the server extension; backs off while the
// dashboard is unreachable and stands by while the panel or the page is hidden.

import { Dialog, showDialog } from "@jupyterlab/apputils";
import { Poll } from "@lumino/polling";
import { Widget } from "@lumino/widgets";
import { bar, chip, h } from "../lib/dom";
import { formatBytes, formatDuration, formatQuantity, isActiveJob } from "../lib/format";
import { oneLine } from "../lib/requests";
import { RESOURCES } from "../lib/tables";
import { ApiError, type Cluster, type Job, type RayApi, type ServeApp, type Status } from "./api";

const SOURCES: Record<string, string> = {
  settings: "JupyterLab settings",
  "%ray_connect": "last %ray_connect",
  environment: "server environment",
  default: "default address",
};
const MAX_BACKOFF_MS = 120_000;

export class RaySidebar extends Widget {
  readonly poll: Poll;
  private bodyEl = h("div", { hidden: true }); // shown once the cluster answered
  private connEl = h("div", { class: "raynb-kv", testid: "raynb-connection" });
  private downEl = h("div", { class: "raynb-down", testid: "raynb-down", hidden: true });
  private clusterEl = h("div", { testid: "raynb-cluster-summary" });
  private jobsEl = h("ul", { class: "raynb-jobs", testid: "raynb-jobs" });
  private jobsNote = h("div", { class: "raynb-notice", testid: "raynb-jobs-note", hidden: true });
  private serveEl = h("div", { testid: "raynb-serve" });
  private noticeEl = h("div", { class: "raynb-notice", testid: "raynb-notice", hidden: true });
  private down: { text: string; retryAt: number } | null = null;
  private countdown: ReturnType<typeof setInterval>;

  constructor(
    private api: RayApi,
    private openLogs: (job: Job) => void,
    intervalMs: number,
  ) {
    super();
    this.id = "raynb-sidebar";
    this.addClass("raynb-root");
    this.addClass("raynb-sidebar");
    const refresh = h("button", { class: "raynb-btn", testid: "raynb-refresh", text: "Refresh",
      on: { click: () => void this.poll.refresh() } });  // prettier-ignore
    this.node.append(
      h("div", { class: "raynb-toolbar" }, h("b", { text: "Ray" }), h("span", { class: "raynb-spacer" }), refresh),
      this.downEl,
      this.bodyEl,
    );
    this.bodyEl.append(
      this.connEl,
      h("div", { class: "raynb-h", text: "Cluster" }),
      this.clusterEl,
      h("div", { class: "raynb-h", text: "Jobs" }),
      this.noticeEl,
      this.jobsNote,
      this.jobsEl,
      h("div", { class: "raynb-h", text: "Serve" }),
      this.serveEl,
    );
    this.poll = new Poll({
      auto: false,
      factory: () => this.refresh(),
      frequency: { interval: intervalMs, backoff: true, max: MAX_BACKOFF_MS },
      name: "raynb:sidebar",
      standby: () => !this.isVisible || "when-hidden",
    });
    this.poll.ticked.connect((_, state) => {
      if (this.down && state.phase === "rejected") this.down.retryAt = state.timestamp + state.interval;
      this.showDown();
    });
    this.countdown = setInterval(() => this.showDown(), 1000);
  }

  /** New refresh interval (ms), from the settings. */
  setInterval(ms: number): void {
    this.poll.frequency = { interval: ms, backoff: true, max: MAX_BACKOFF_MS };
  }

  dispose(): void {
    if (this.isDisposed) return;
    clearInterval(this.countdown);
    this.poll.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    void this.poll.refresh();
  }

  private async refresh(): Promise<void> {
    let status: Status;
    try {
      status = await this.api.json<Status>("status");
    } catch (e) {
      const address = e instanceof ApiError && e.address ? e.address : this.api.address || "the configured address";
      const reason = e instanceof ApiError && e.status === 503 ? `Ray dashboard unreachable at ${address}` : oneLine(e);
      this.down = { text: reason, retryAt: 0 };
      this.bodyEl.classList.add("raynb-stale"); // what the cluster said last, greyed
      throw e; // the poll backs off
    }
    this.down = null;
    this.bodyEl.hidden = false;
    this.bodyEl.classList.remove("raynb-stale");
    this.renderConnection(status);
    const [cluster, jobs, serve] = await Promise.allSettled([
      this.api.json<Cluster>("cluster"),
      this.api.json<Job[]>("jobs"),
      this.api.json<ServeApp[]>("serve"),
    ]);
    this.section(this.clusterEl, cluster, (c) => this.renderCluster(c));
    if (jobs.status === "fulfilled") this.renderJobs(jobs.value);
    this.jobsNote.hidden = jobs.status === "fulfilled";
    if (jobs.status === "rejected") this.jobsNote.textContent = oneLine(jobs.reason);
    this.section(this.serveEl, serve, (apps) => this.renderServe(apps));
  }

  private showDown(): void {
    this.downEl.hidden = !this.down;
    if (!this.down) return;
    const left = Math.max(0, Math.round((this.down.retryAt - Date.now()) / 1000));
    const when = this.down.retryAt === 0 ? "" : left > 0 ? ` — retrying in ${left} s` : " — retrying now";
    this.downEl.textContent = this.down.text + when;
  }

  private section<T>(el: HTMLElement, result: PromiseSettledResult<T>, render: (value: T) => Node[]): void {
    el.replaceChildren(
      ...(result.status === "fulfilled"
        ? render(result.value)
        : [h("div", { class: "raynb-notice", text: oneLine(result.reason) })]),
    );
  }

  private renderConnection(s: Status): void {
    const link = h("a", { href: s.dashboard_url, target: "_blank", rel: "noopener", testid: "raynb-dashboard-link",
      text: s.dashboard_via === "direct" ? "Open Ray dashboard" : "Open Ray dashboard (via Jupyter proxy)" });  // prettier-ignore
    this.connEl.replaceChildren(
      h("span", { text: "Address" }),
      h("span", { class: "raynb-mono", testid: "raynb-address", text: s.address }),
      h("span", { text: "From" }),
      h("span", { testid: "raynb-source", text: SOURCES[s.source] ?? s.source }),
      h("span", { text: "Ray" }),
      h("span", {}, chip("ALIVE"), ` ${s.ray_version}${s.token ? " · token" : ""}`),
      h("span", { text: "" }),
      link,
    );
  }

  private renderCluster(c: Cluster): Node[] {
    const rows: Node[] = [
      h("span", { text: "Nodes" }),
      h("span", { testid: "raynb-nodes-count", text: `${c.nodes_alive} alive${c.nodes_dead ? `, ${c.nodes_dead} dead` : ""}` }),
    ];
    for (const { name, label, bytes } of RESOURCES) {
      const r = c.resources[name];
      if (!r) continue;
      const f = bytes ? formatBytes : formatQuantity;
      rows.push(h("span", { text: label }), bar(r.total > 0 ? r.used / r.total : NaN, `${f(r.used)} / ${f(r.total)}`));
    }
    const nodes = c.nodes.map((n) =>
      h("div", { class: "raynb-node", testid: "raynb-node" },
        chip(n.state), " ", h("span", { class: "raynb-mono", text: n.ip || n.node_id.slice(0, 8) }),
        n.is_head ? h("span", { class: "raynb-dim", text: " head" }) : null,
        h("span", { class: "raynb-dim", testid: "raynb-node-cpus",
          text: ` · ${formatQuantity(n.cpus[1])} CPU (Ray)${n.host_cpus ? ` · host ${n.host_cpus} cores` : ""} · ${formatBytes(n.memory[1])}` })),
    );  // prettier-ignore
    return [h("div", { class: "raynb-kv" }, ...rows), ...nodes];
  }

  private renderJobs(jobs: Job[]): void {
    const now = Date.now();
    this.jobsEl.replaceChildren(
      ...jobs.map((job) => {
        const duration = job.start_time ? (job.end_time ?? now) - job.start_time : null;
        const stop = isActiveJob(job.status) && job.type !== "DRIVER"  // drivers stop with their script
          ? h("button", { class: "raynb-btn raynb-btn-danger", testid: "raynb-stop", text: "Stop",
              on: { click: (e: Event) => { e.stopPropagation(); void this.stop(job); } } })  // prettier-ignore
          : null;
        return h("li", { class: "raynb-job", testid: "raynb-job", "data-job-id": job.id, tabindex: "0",
            title: [job.id, job.entrypoint, job.message].filter(Boolean).join("\n"),
            on: { click: () => this.openLogs(job), keydown: (e: KeyboardEvent) => e.key === "Enter" && this.openLogs(job) } },
          h("div", { class: "raynb-job-head" }, chip(job.status),
            h("span", { class: "raynb-mono raynb-job-id", text: job.id }), stop),
          h("div", { class: "raynb-job-sub raynb-dim" }, h("span", { class: "raynb-nowrap", text: formatDuration(duration) }),
            h("span", { class: "raynb-mono raynb-job-cmd", text: job.entrypoint })));  // prettier-ignore
      }),
    );
    if (!jobs.length) this.jobsEl.append(h("li", { class: "raynb-dim", text: "No jobs yet." }));
  }

  private renderServe(apps: ServeApp[]): Node[] {
    if (!apps.length) return [h("div", { class: "raynb-dim", text: "No Serve applications." })];
    return apps.map((a) =>
      h("div", { testid: "raynb-serve-app", title: a.message },
        chip(a.status, true), " ", h("b", { text: a.name }),
        h("span", { class: "raynb-dim", text: ` ${a.route_prefix ?? ""} · ${a.deployments.length} deployment(s)` })),
    );  // prettier-ignore
  }

  private async stop(job: Job): Promise<void> {
    const answer = await showDialog({
      title: "Stop Ray job?",
      body: `Stop job ${job.id}? Ray ends its driver and the tasks it started.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: "Stop job" })],
    });
    if (!answer.button.accept) return;
    this.noticeEl.hidden = false;
    try {
      const reply = await this.api.json<{ stopped: boolean }>(this.api.jobPath(job.id, "/stop"), { method: "POST" });
      this.noticeEl.textContent = reply.stopped ? `Stopping ${job.id}…` : `${job.id} was not running.`;
    } catch (e) {
      this.noticeEl.textContent = `Could not stop ${job.id}: ${oneLine(e)}`;
    }
    void this.poll.refresh();
  }
}
