// JobsTable widget: sortable, filterable job list with Stop / Delete / Logs and a log panel
// (PROTOCOL.md "JobsTable").

import { chip, h, setChip, setLine } from "../lib/dom";
import {
  formatDuration,
  formatLocalTime,
  formatRelative,
  isActiveJob,
  isTerminalJob,
} from "../lib/format";
import { LogPanel } from "../lib/logpanel";
import { LogStream } from "../lib/logstream";
import { listen, type RenderProps } from "../lib/model";
import { RequestClient } from "../lib/requests";
import type { JobRow } from "../lib/rows";
import { BASE_CSS, LOG_CSS } from "../lib/styles";
import { setupRoot, shell, trackVisible } from "../lib/widget";

type Job = JobRow;

type SortKey = "id" | "status" | "entrypoint" | "start_time" | "duration";

const COLUMNS: [SortKey | null, string][] = [
  ["id", "ID"],
  ["status", "Status"],
  ["entrypoint", "Entrypoint"],
  ["start_time", "Started"],
  ["duration", "Duration"],
  [null, ""],
];

function str(v: unknown): string {
  return v === null || v === undefined ? "" : String(v);
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function toJob(raw: any): Job {
  return {
    id: str(raw?.id),
    submission_id: raw?.submission_id == null ? null : str(raw.submission_id),
    job_id: raw?.job_id == null ? null : str(raw.job_id),
    status: str(raw?.status).toUpperCase(),
    type: str(raw?.type),
    entrypoint: str(raw?.entrypoint),
    message: str(raw?.message),
    start_time: num(raw?.start_time),
    end_time: num(raw?.end_time),
    driver_exit_code: num(raw?.driver_exit_code),
  };
}

/** Run time in ms: to end_time, or to `now` while active; null if not started. */
function durationMs(j: Job, now: number): number | null {
  if (j.start_time === null) return null;
  if (j.end_time !== null) return j.end_time - j.start_time;
  return isActiveJob(j.status) ? now - j.start_time : null;
}

function sortValue(j: Job, key: SortKey, now: number): string | number {
  if (key === "start_time") return j.start_time ?? -1;
  if (key === "duration") return durationMs(j, now) ?? -1;
  return j[key].toLowerCase();
}

interface Row {
  tr: HTMLTableRowElement;
  chip: HTMLSpanElement;
  entry: HTMLDivElement;
  message: HTMLDivElement;
  started: HTMLTableCellElement;
  duration: HTMLTableCellElement;
  actions: HTMLTableCellElement;
  job: Job;
  actionKey: string;
}

function render({ model, el }: RenderProps): () => void {
  setupRoot(el, BASE_CSS + LOG_CSS);
  const client = new RequestClient(model);
  const ui = shell(model, client);
  let jobs: Job[] = [];
  let query = "";
  let sort: { key: SortKey; dir: 1 | -1 } = { key: "start_time", dir: -1 };
  const rows = new Map<string, Row>();

  const filter = h("input", {
    class: "raynb-input",
    type: "search",
    placeholder: "Filter jobs",
    "aria-label": "Filter jobs",
    testid: "raynb-jobs-filter",
    on: {
      input: (e: Event) => {
        query = (e.target as HTMLInputElement).value.trim().toLowerCase();
        draw();
      },
    },
  });
  const count = h("span", { class: "raynb-count" });
  ui.toolbar.prepend(filter, count);

  const heads = COLUMNS.map(([key, label]) => {
    const th = h("th", { text: label, class: key ? "raynb-sortable" : undefined });
    if (key) {
      th.title = "Sort";
      th.addEventListener("click", () => {
        sort = { key, dir: sort.key === key ? (-sort.dir as 1 | -1) : key === "start_time" ? -1 : 1 };
        draw();
      });
    }
    return { th, key, label };
  });
  const tbody = h("tbody");
  const empty = h("tr", {}, h("td", { colspan: String(COLUMNS.length), class: "raynb-dim" }));
  const table = h(
    "table",
    { class: "raynb-table", testid: "raynb-jobs" },
    h("thead", {}, h("tr", {}, ...heads.map((x) => x.th))),
    tbody,
  );

  // Log panel of the job named by the log_job trait.
  const panel = new LogPanel({ height: "300px" });
  const stream = new LogStream(model, client, panel);
  const logTitle = h("span", { class: "raynb-mono" });
  const logChip = chip("");
  const logBox = h(
    "div",
    { hidden: true },
    h("div", { class: "raynb-h" }, "Logs of ", logTitle, " ", logChip),
    panel.el,
  );
  el.append(ui.toolbar, ui.error, h("div", { class: "raynb-scroll-x" }, table), ui.notice, logBox);

  const showLogs = (id: string) =>
    void ui.run(`Loading logs of ${id}`, client.request("logs", { job_id: id })).then((ok) => ok && setLine(ui.notice, ""));

  const act = (label: string, method: "stop" | "delete", id: string, btn: HTMLButtonElement) => {
    if (!window.confirm(`${label} job ${id}?`)) return;
    btn.disabled = true;
    void ui.run(`${label} ${id}`, client.request(method, { job_id: id })).finally(() => (btn.disabled = false));
  };

  const button = (text: string, testid: string, onClick: (b: HTMLButtonElement) => void, danger = false) => {
    const b = h("button", { class: danger ? "raynb-btn raynb-btn-danger" : "raynb-btn", testid, text });
    b.addEventListener("click", (ev) => {
      ev.stopPropagation();
      onClick(b);
    });
    return b;
  };

  const makeRow = (j: Job): Row => {
    const idBtn = h("button", { class: "raynb-link", text: j.id, title: "Show logs" });
    idBtn.addEventListener("click", () => showLogs(j.id));
    const row: Row = {
      tr: h("tr", { testid: "raynb-job-row", "data-job-id": j.id }),
      chip: chip(""),
      entry: h("div", { class: "raynb-trunc raynb-mono" }),
      message: h("div", { class: "raynb-trunc raynb-dim" }),
      started: h("td", { class: "raynb-nowrap" }),
      duration: h("td", { class: "raynb-nowrap" }),
      actions: h("td", { class: "raynb-actions" }),
      job: j,
      actionKey: "",
    };
    row.tr.append(
      h("td", {}, idBtn),
      h("td", {}, row.chip),
      h("td", {}, row.entry, row.message),
      row.started,
      row.duration,
      row.actions,
    );
    return row;
  };

  const updateRow = (row: Row, j: Job, now: number) => {
    row.job = j;
    setChip(row.chip, j.status);
    row.chip.title = j.driver_exit_code !== null ? `exit code ${j.driver_exit_code}` : j.type;
    row.entry.textContent = j.entrypoint;
    row.entry.title = j.entrypoint;
    row.message.textContent = j.message;
    row.message.title = j.message;
    row.message.hidden = !j.message;
    row.started.title = formatLocalTime(j.start_time);
    tickRow(row, now);
    const key = isActiveJob(j.status) ? "stop" : isTerminalJob(j.status) ? "delete" : "";
    if (key !== row.actionKey) {
      row.actionKey = key;
      const logs = button("Logs", "raynb-logs", () => showLogs(j.id));
      const extra =
        key === "stop"
          ? button("Stop", "raynb-stop", (b) => act("Stop", "stop", j.id, b), true)
          : key === "delete"
            ? button("Delete", "raynb-delete", (b) => act("Delete", "delete", j.id, b), true)
            : null;
      row.actions.replaceChildren(logs, ...(extra ? [extra] : []));
    }
    row.tr.classList.toggle("raynb-selected", j.id === model.get("log_job"));
  };

  const tickRow = (row: Row, now: number) => {
    row.started.textContent = formatRelative(row.job.start_time, now);
    row.duration.textContent = formatDuration(durationMs(row.job, now));
  };

  function draw(): void {
    const now = Date.now();
    const shown = jobs
      .filter((j) => !query || [j.id, j.status, j.type, j.entrypoint, j.message].some((s) => s.toLowerCase().includes(query)))
      .sort((a, b) => {
        const x = sortValue(a, sort.key, now);
        const y = sortValue(b, sort.key, now);
        return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
      });
    const seen = new Set<string>();
    for (const j of shown) {
      let row = rows.get(j.id);
      if (!row) rows.set(j.id, (row = makeRow(j)));
      updateRow(row, j, now);
      seen.add(j.id);
      tbody.append(row.tr); // moves existing rows into sorted order
    }
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    (empty.firstChild as HTMLElement).textContent = jobs.length ? "No matching jobs." : "No jobs.";
    if (shown.length) empty.remove();
    else tbody.append(empty);
    count.textContent = query ? `${shown.length} of ${jobs.length} jobs` : `${jobs.length} ${jobs.length === 1 ? "job" : "jobs"}`;
    for (const x of heads) {
      x.th.textContent = x.key === sort.key ? `${x.label} ${sort.dir > 0 ? "▲" : "▼"}` : x.label;
    }
  }

  const onJobs = () => {
    const raw = model.get("jobs");
    jobs = Array.isArray(raw) ? raw.map(toJob).filter((j) => j.id) : [];
    draw();
  };
  const onLog = () => {
    const id = String(model.get("log_job") ?? "");
    logBox.hidden = !id;
    logTitle.textContent = id;
    setChip(logChip, model.get("log_status"));
    panel.setFinal(String(model.get("log_final") ?? ""), String(model.get("log_status") ?? ""));
    stream.setStream(id);
    for (const row of rows.values()) row.tr.classList.toggle("raynb-selected", row.job.id === id);
  };
  const offs = [
    listen(model, "change:jobs", onJobs),
    ...["log_job", "log_status", "log_final"].map((k) => listen(model, `change:${k}`, onLog)),
    trackVisible(model, el),
  ];
  const ticker = setInterval(() => {
    if (document.hidden) return;
    const now = Date.now();
    for (const row of rows.values()) tickRow(row, now);
  }, 1000);
  onJobs();
  onLog();

  return () => {
    clearInterval(ticker);
    offs.forEach((off) => off());
    ui.cleanup();
    stream.dispose();
    client.dispose();
    panel.destroy();
  };
}

export default { render };
