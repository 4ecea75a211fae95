// ClusterPanel widget: resource totals, pending demand and nodes (PROTOCOL.md "ClusterPanel").

import { bar, chip, h } from "../lib/dom";
import { formatBytes, formatQuantity } from "../lib/format";
import { listen, type RenderProps } from "../lib/model";
import { RequestClient } from "../lib/requests";
import { BASE_CSS } from "../lib/styles";
import { RESOURCES } from "../lib/tables";
import { setupRoot, shell, trackVisible } from "../lib/widget";

const CSS =
  BASE_CSS +
  `
.raynb-totals { display: grid; grid-template-columns: max-content minmax(12em, 28em); gap: 3px 10px;
  align-items: center; margin: 4px 0 8px; }
.raynb-totals .raynb-bar-label { min-width: 11em; }
.raynb-pending { margin: 2px 0 8px; padding-left: 1.4em; }
.raynb-gpus { display: flex; flex-direction: column; gap: 2px; }
.raynb-badge { margin-left: 6px; font-size: 11px; color: var(--jp-ui-font-color2, #616161); }
`;

const LABELS: Record<string, string> = Object.fromEntries(RESOURCES.map((r) => [r.name, r.label]));
const BYTES = new Set(RESOURCES.filter((r) => r.bytes).map((r) => r.name));
const BUILTIN = new Set(RESOURCES.map((r) => r.name));

type Pair = [number, number];

function pair(v: unknown): Pair {
  const a = Array.isArray(v) ? v : [];
  const n = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : NaN);
  return [n(a[0]), n(a[1])];
}

function str(v: unknown): string {
  return v === null || v === undefined ? "" : String(v);
}

/** Bar for [used, total]; byte values human-readable. */
function usageBar([used, total]: Pair, bytes: boolean): HTMLDivElement {
  const f = bytes ? formatBytes : formatQuantity;
  return bar(total > 0 ? used / total : NaN, `${f(used)} / ${f(total)}`);
}

/** Resources shown in the totals: the four main ones first, then custom ones (no node:* ids). */
function totalNames(totals: Record<string, unknown>): string[] {
  const main = Object.keys(LABELS).filter((k) => k in totals);
  const rest = Object.keys(totals)
    .filter((k) => !(k in LABELS) && !k.startsWith("node:") && !k.startsWith("accelerator_type:"))
    .sort();
  return [...main, ...rest];
}

function render({ model, el }: RenderProps): () => void {
  setupRoot(el, CSS);
  const client = new RequestClient(model);
  const ui = shell(model, client);
  const totalsEl = h("div", { class: "raynb-totals" });
  const pendingEl = h("div");
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "raynb-table", testid: "raynb-cluster-nodes" },
    h(
      "thead",
      {},
      h("tr", {}, ...["Node", "State", "CPU (Ray / host)", "Memory (host)", "Object store", "GPUs"].map((t) => h("th", { text: t }))),
    ),
    tbody,
  );
  ui.toolbar.prepend(h("b", { text: "Ray cluster" }));
  el.append(
    h(
      "div",
      { testid: "raynb-cluster" },
      ui.toolbar,
      ui.error,
      h("div", { class: "raynb-h", text: "Resources" }),
      totalsEl,
      h("div", { class: "raynb-h", text: "Pending demand" }),
      pendingEl,
      h("div", { class: "raynb-h", text: "Nodes" }),
      h("div", { class: "raynb-scroll-x" }, table),
      ui.notice,
    ),
  );

  const drawTotals = () => {
    const raw = model.get("totals");
    const totals: Record<string, unknown> = raw && typeof raw === "object" ? raw : {};
    const names = totalNames(totals);
    totalsEl.replaceChildren(
      ...names.flatMap((name) => {
        const b = usageBar(pair(totals[name]), BYTES.has(name));
        b.setAttribute("data-testid", `raynb-total-${name}`);
        return [h("span", { text: LABELS[name] ?? name, title: name }), b];
      }),
    );
    if (!names.length) totalsEl.replaceChildren(h("span", { class: "raynb-dim", text: "–" }));
  };

  const drawPending = () => {
    const raw = model.get("pending");
    const items = Array.isArray(raw) ? raw.map(str).filter(Boolean) : [];
    pendingEl.replaceChildren(
      items.length
        ? h("ul", { class: "raynb-pending", testid: "raynb-pending" }, ...items.map((t) => h("li", { text: t })))
        : h("div", { class: "raynb-dim", testid: "raynb-pending", text: "none" }),
    );
  };

  const nodeRow = (n: any): HTMLTableRowElement => {
    const id = str(n?.node_id);
    const state = str(n?.state).toUpperCase();
    // Ray's logical CPUs (what num_cpus asks for) and the host's physical load, labelled apart.
    const [cpuUsed, cpuTotal] = pair(n?.cpus);
    const hostPct = typeof n?.host_cpu_percent === "number" ? n.host_cpu_percent : NaN;
    const hostCores = typeof n?.host_cpus === "number" ? ` of ${formatQuantity(n.host_cpus)} cores` : "";
    const custom = Object.entries(n?.resources ?? {}).filter(([k]) => !BUILTIN.has(k));
    const gpus: any[] = Array.isArray(n?.gpus) ? n.gpus : [];
    const nameCell = h(
      "td",
      { title: `node ${id}` },
      h("span", { class: "raynb-mono", text: str(n?.hostname) || str(n?.ip) || id.slice(0, 12) }),
      n?.is_head ? h("span", { class: "raynb-badge", text: "head" }) : null,
      h("div", { class: "raynb-dim raynb-mono", text: str(n?.ip) }),
    );
    const gpuCell = gpus.length
      ? h(
          "div",
          { class: "raynb-gpus" },
          ...gpus.map((g, i) => {
            const util = typeof g?.utilization === "number" ? g.utilization : NaN;
            const [mu, mt] = pair(g?.memory);
            const title = `${str(g?.name) || `GPU ${i}`}: memory ${formatBytes(mu)} / ${formatBytes(mt)}`;
            return bar(util / 100, `GPU${i} ${Number.isFinite(util) ? Math.round(util) : "–"}%`, title);
          }),
        )
      : h("span", { class: "raynb-dim", text: "–" });
    return h(
      "tr",
      { testid: "raynb-node-row", "data-node-id": id },
      nameCell,
      h("td", {}, chip(state)),
      h("td", {},
        bar(cpuTotal > 0 ? cpuUsed / cpuTotal : NaN, `Ray ${formatQuantity(cpuUsed)} / ${formatQuantity(cpuTotal)} CPU`),
        h("div", { class: "raynb-dim", text: `host ${Number.isFinite(hostPct) ? Math.round(hostPct) : "–"}%${hostCores}` }),
        ...custom.map(([k, v]) => h("div", { class: "raynb-dim raynb-mono", text: `${k} ${formatQuantity(pair(v)[0])}/${formatQuantity(pair(v)[1])}` }))),
      h("td", {}, usageBar(pair(n?.memory), true)),
      h("td", {}, usageBar(pair(n?.object_store), true)),
      h("td", {}, gpuCell),
    );
  };

  const drawNodes = () => {
    const raw = model.get("nodes");
    const nodes: any[] = Array.isArray(raw) ? raw : [];
    // Head first, then alive before dead, then by host name.
    const order = (n: any) => `${n?.is_head ? 0 : 1}${str(n?.state).toUpperCase() === "ALIVE" ? 0 : 1}${str(n?.hostname)}`;
    const sorted = [...nodes].sort((a, b) => order(a).localeCompare(order(b)));
    tbody.replaceChildren(
      ...(sorted.length
        ? sorted.map(nodeRow)
        : [h("tr", {}, h("td", { colspan: "6", class: "raynb-dim", text: "No nodes." }))]),
    );
  };

  const offs = [
    listen(model, "change:totals", drawTotals),
    listen(model, "change:pending", drawPending),
    listen(model, "change:nodes", drawNodes),
    trackVisible(model, el),
  ];
  drawTotals();
  drawPending();
  drawNodes();

  return () => {
    offs.forEach((off) => off());
    ui.cleanup();
    client.dispose();
  };
}

export default { render };
