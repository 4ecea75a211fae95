// LogView widget: one job's live log (PROTOCOL.md "LogView").

import { chip, h, setChip } from "../lib/dom";
import type { EarlierLoader } from "../lib/earlier";
import { formatCount } from "../lib/format";
import { LogPanel } from "../lib/logpanel";
import { LogStream } from "../lib/logstream";
import { listen, type RenderProps } from "../lib/model";
import { oneLine, RequestClient } from "../lib/requests";
import { BASE_CSS, LOG_CSS } from "../lib/styles";
import { setupRoot } from "../lib/widget";

function render({ model, el }: RenderProps): () => void {
  setupRoot(el, BASE_CSS + LOG_CSS);
  const jobId = h("span", { class: "raynb-mono", testid: "raynb-job-id" });
  const status = chip("");
  status.setAttribute("data-testid", "raynb-status");
  const count = h("span", { class: "raynb-count", testid: "raynb-total" });
  const live = h("span", { class: "raynb-dim", testid: "raynb-live", text: "● live", title: "Following the log" });
  el.append(h("div", { class: "raynb-toolbar" }, h("b", { text: "Job" }), jobId, status, count, live));

  const panel = new LogPanel({ capacity: Number(model.get("max_lines")) || 100_000 });
  el.append(panel.el);
  const client = new RequestClient(model);
  const stream = new LogStream(model, client, panel);
  // A log opened at its last lines: the kernel has the lines before seq 0 (PROTOCOL.md "earlier").
  const earlier: EarlierLoader = async (n, have) => {
    const r = await client.request("earlier", { stream: stream.current, have, n }, 60_000);
    return { lines: r.lines, atStart: r.at_start, cursor: have + r.lines.length };
  };

  const update = () => {
    const id = String(model.get("job_id") ?? "");
    jobId.textContent = id || "–";
    setChip(status, model.get("status"));
    live.hidden = Boolean(model.get("done"));
    const total = Number(model.get("total")) || 0;
    const dropped = Number(model.get("dropped")) || 0;
    count.textContent =
      `${formatCount(total)} ${total === 1 ? "line" : "lines"}` +
      (dropped > 0 ? ` · ${formatCount(dropped)} dropped by the kernel` : "");
    panel.setFinal(String(model.get("final") ?? ""), String(model.get("status") ?? ""));
    panel.setError(oneLine(model.get("error") ?? ""));
    stream.setStream(id);
    panel.setEarlier(id && !model.get("from_start") ? earlier : null);
  };
  const offs = ["job_id", "status", "done", "total", "dropped", "final", "error", "from_start"].map((k) =>
    listen(model, `change:${k}`, update),
  );
  offs.push(listen(model, "change:max_lines", () => panel.setCapacity(Number(model.get("max_lines")))));
  update();

  return () => {
    offs.forEach((off) => off());
    stream.dispose();
    client.dispose();
    panel.destroy();
  };
}

export default { render };
