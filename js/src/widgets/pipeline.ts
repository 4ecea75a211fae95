// Pipeline progress widget: one row per action (status, progress, message, elapsed, metrics),
// overall progress, the selected action's logs, Cancel and Resume (PROTOCOL.md "PipelineProgress").

import { chip, h, setChip, setLine } from "../lib/dom";
import { elapsed, formatMetrics } from "../lib/format";
import { listen, type RenderProps } from "../lib/model";
import { oneLine, RequestClient } from "../lib/requests";
import { BASE_CSS } from "../lib/styles";
import { ACTION_ICONS, PIPELINE_TERMINAL } from "../lib/tables";
import { setupRoot } from "../lib/widget";

const CSS =
  BASE_CSS +
  `
.raynb-pl-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 2px 0 4px; }
.raynb-pl-name { font-weight: 600; }
.raynb-pl-overall { max-width: 36em; margin: 2px 0 6px; }
.raynb-pl-table tbody tr { cursor: pointer; }
.raynb-pl-icon { width: 1.4em; text-align: center; }
.raynb-pl-msg { max-width: 28em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.raynb-pl-err { color: var(--jp-error-color1, #d32f2f); }
.raynb-pl-logs { height: 160px; overflow: auto; resize: vertical; margin: 6px 0 2px; padding: 2px 8px;
  font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 12px);
  white-space: pre; border: 1px solid var(--jp-border-color2, #e0e0e0); border-radius: 3px;
  background: var(--jp-layout-color0, transparent); }
.raynb-pl-level-error, .raynb-pl-level-ERROR { color: var(--jp-error-color1, #d32f2f); }
.raynb-pl-level-warning, .raynb-pl-level-WARNING { color: var(--jp-warn-color1, #f57c00); }
`;

const MAX_LOG_LINES = 1000;

interface Action {
  index: number;
  name: string;
  status: string;
  progress: number;
  message: string | null;
  metrics: Record<string, unknown>;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
}

interface LogLine {
  id: number;
  action_index: number | null;
  level: string;
  message: string;
}

function progressBar(): [HTMLDivElement, (fraction: number, label: string) => void] {
  const fill = h("div", { class: "raynb-bar-fill raynb-bar-ok" });
  const label = h("span", { class: "raynb-bar-label" });
  const el = h("div", { class: "raynb-bar" }, h("div", { class: "raynb-bar-track" }, fill), label);
  return [
    el,
    (fraction, text) => {
      const f = Number.isFinite(fraction) ? Math.max(0, Math.min(1, fraction)) : 0;
      fill.style.width = `${(f * 100).toFixed(1)}%`;
      label.textContent = text;
    },
  ];
}

interface Row {
  tr: HTMLTableRowElement;
  icon: HTMLTableCellElement;
  chip: HTMLSpanElement;
  setBar: (f: number, label: string) => void;
  message: HTMLDivElement;
  elapsed: HTMLTableCellElement;
  metrics: HTMLTableCellElement;
}

function render({ model, el }: RenderProps): () => void {
  setupRoot(el, CSS);
  el.classList.add("raynb-pipeline");
  const client = new RequestClient(model, { timeoutMs: 60_000 });

  const name = h("span", { class: "raynb-pl-name", testid: "raynb-pl-name" });
  const runId = h("span", { class: "raynb-mono raynb-dim", testid: "raynb-pl-run" });
  const status = chip("");
  status.setAttribute("data-testid", "raynb-pl-status");
  const total = h("span", { class: "raynb-dim", testid: "raynb-pl-elapsed" });
  const cancel = h("button", { class: "raynb-btn raynb-btn-danger", testid: "raynb-pl-cancel", text: "Cancel" });
  const resume = h("button", { class: "raynb-btn", testid: "raynb-pl-resume", text: "Resume" });
  const [overall, setOverall] = progressBar();
  overall.classList.add("raynb-pl-overall");
  overall.setAttribute("data-testid", "raynb-pl-overall");
  const resumed = h("div", { class: "raynb-dim", hidden: true });
  const runError = h("div", { class: "raynb-error", testid: "raynb-pl-error", hidden: true });
  const error = h("div", { class: "raynb-error", testid: "raynb-error", hidden: true });
  const notice = h("div", { class: "raynb-notice", testid: "raynb-notice", hidden: true });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "raynb-table raynb-pl-table" },
    h("thead", {}, h("tr", {}, ...["", "Action", "Status", "Progress", "Message", "Elapsed", "Metrics"].map((t) => h("th", { text: t })))),
    tbody,
  );
  const logsTitle = h("div", { class: "raynb-h", testid: "raynb-pl-logs-title" });
  const logs = h("div", { class: "raynb-pl-logs", testid: "raynb-pl-logs" });
  el.append(
    h("div", { class: "raynb-pl-head" }, name, runId, status, total, h("span", { class: "raynb-spacer" }), cancel, resume),
    overall,
    resumed,
    runError,
    error,
    notice,
    h("div", { class: "raynb-scroll-x" }, table),
    logsTitle,
    logs,
  );

  let rows: Row[] = [];
  let lines: LogLine[] = [];
  let selected: number | null = null; // null: follow the current action
  let busy = false;

  const progress = () => (model.get("progress") ?? {}) as Record<string, any>;
  const actions = () => ((progress().actions ?? []) as Action[]).filter((a) => a && typeof a === "object");

  const shownAction = (): number | null => {
    if (selected !== null) return selected;
    const p = progress();
    if (typeof p.current_action_index === "number") return p.current_action_index;
    const list = actions();
    const failed = list.find((a) => a.status === "FAILED");
    return failed ? failed.index : list.length ? list[list.length - 1].index : null;
  };

  const renderLogs = () => {
    const index = shownAction();
    const list = actions();
    const action = list.find((a) => a.index === index);
    logsTitle.textContent = action ? `Logs of ${action.index + 1}. ${action.name}` : "Logs";
    const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    const mine = lines.filter((l) => l.action_index === index || (index === null && l.action_index === null));
    logs.replaceChildren(
      ...(mine.length
        ? mine.map((l) => h("div", { class: `raynb-pl-level-${l.level}`, text: String(l.message) }))
        : [h("div", { class: "raynb-dim", text: "no log lines yet" })]),
    );
    if (atBottom) logs.scrollTop = logs.scrollHeight;
  };

  const buildRows = (list: Action[]) => {
    rows = list.map((a) => {
      const [barEl, setBar] = progressBar();
      const row: Row = {
        tr: h("tr", { "data-testid": "raynb-pl-row" }),
        icon: h("td", { class: "raynb-pl-icon" }),
        chip: chip(""),
        setBar,
        message: h("div", { class: "raynb-pl-msg" }),
        elapsed: h("td", { class: "raynb-nowrap" }),
        metrics: h("td", { class: "raynb-dim" }),
      };
      row.tr.append(
        row.icon,
        h("td", { class: "raynb-nowrap", text: a.name }),
        h("td", {}, row.chip),
        h("td", {}, barEl),
        h("td", {}, row.message),
        row.elapsed,
        row.metrics,
      );
      row.tr.addEventListener("click", () => {
        selected = selected === a.index ? null : a.index;
        update();
      });
      return row;
    });
    tbody.replaceChildren(...rows.map((r) => r.tr));
  };

  const update = () => {
    const p = progress();
    const list = actions();
    if (rows.length !== list.length) buildRows(list);
    const st = String(p.status ?? "");
    name.textContent = String(p.name ?? "");
    runId.textContent = String(model.get("run_id") ?? "");
    setChip(status, st || "PENDING");
    total.textContent = elapsed(p.started_at ?? p.created_at, p.finished_at);
    const frac = Number(p.overall_progress) || 0;
    setOverall(frac, `${Math.round(frac * 100)}% overall`);
    setLine(resumed, p.resumed_from ? `resumed from ${p.resumed_from}` : "");
    setLine(runError, p.error ? `✗ ${oneLine(p.error)}` : "");
    cancel.hidden = !st || PIPELINE_TERMINAL.has(st);
    resume.hidden = !(st === "FAILED" || st === "CANCELLED");
    cancel.disabled = resume.disabled = busy;
    const shown = shownAction();
    list.forEach((a, i) => {
      const row = rows[i];
      row.icon.textContent = ACTION_ICONS[a.status] ?? "?";
      setChip(row.chip, a.status);
      const f = Number(a.progress) || 0;
      row.setBar(f, `${Math.round(f * 100)}%`);
      row.message.textContent = a.error ?? a.message ?? "";
      row.message.title = row.message.textContent;
      row.message.classList.toggle("raynb-pl-err", Boolean(a.error));
      row.elapsed.textContent = elapsed(a.started_at, a.finished_at);
      row.metrics.textContent = formatMetrics(a.metrics);
      row.tr.classList.toggle("raynb-selected", a.index === shown);
    });
    renderLogs();
  };

  const loadLogs = () =>
    client.request("logs").then(
      (res) => {
        if (res?.run_id !== model.get("run_id")) return;
        lines = (res.lines ?? []).slice(-MAX_LOG_LINES);
        renderLogs();
      },
      () => undefined, // the live `logs` messages still come
    );

  const act = async (label: string, method: string) => {
    busy = true;
    update();
    setLine(notice, `${label}…`);
    try {
      const res = await client.request(method);
      setLine(notice, oneLine(res?.message ?? `${label}: done`));
    } catch (e) {
      setLine(notice, `${label} failed: ${oneLine(e)}`);
    } finally {
      busy = false;
      update();
    }
  };
  cancel.addEventListener("click", () => {
    if (window.confirm(`Cancel pipeline run ${model.get("run_id")}?`)) void act("Cancel", "cancel");
  });
  resume.addEventListener("click", () => void act("Resume", "resume"));

  const offs = [
    listen(model, "change:progress", update),
    listen(model, "change:run_id", () => {
      lines = [];
      selected = null;
      rows = [];
      update();
      void loadLogs();
    }),
    listen(model, "change:error", () => setLine(error, oneLine(model.get("error") ?? ""))),
    listen(model, "msg:custom", (msg: any) => {
      if (msg?.type !== "logs" || msg.run_id !== model.get("run_id") || !Array.isArray(msg.lines)) return;
      lines = lines.concat(msg.lines).slice(-MAX_LOG_LINES);
      renderLogs();
    }),
  ];
  const timer = setInterval(() => {
    if (!PIPELINE_TERMINAL.has(String(progress().status ?? ""))) update(); // elapsed times tick
  }, 1000);
  setLine(error, oneLine(model.get("error") ?? ""));
  update();
  void loadLogs();

  return () => {
    clearInterval(timer);
    offs.forEach((off) => off());
    client.dispose();
  };
}

export default { render };
