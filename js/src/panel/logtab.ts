// A job's live log in a JupyterLab main-area tab: LogPanel (ring buffer, virtual scrolling,
// ANSI) fed by the server extension's NDJSON stream. It opens at the log's last lines, loads
// earlier ones when scrolled to the top, and a broken stream goes on at the byte offset
// after the last line shown.

import { Widget } from "@lumino/widgets";
import { h, setChip } from "../lib/dom";
import type { EarlierLoader } from "../lib/earlier";
import { LogPanel } from "../lib/logpanel";
import { oneLine } from "../lib/requests";
import { ApiError, type RayApi } from "./api";
import { ndjson } from "./ndjson";

/** Lines a tab opens with: the end of a long log, without reading the rest. */
export const OPEN_LINES = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class JobLogWidget extends Widget {
  private panel = new LogPanel();
  private status: HTMLSpanElement;
  private received = 0; // lines shown from this stream (the ones loaded earlier not counted)
  private offset: number | null = null; // byte offset after the last line shown, if known
  private fromStart = false; // the first line shown is the log's first
  private abort = new AbortController();

  constructor(
    private api: RayApi,
    readonly jobId: string,
    status: string,
  ) {
    super();
    this.addClass("raynb-root");
    this.addClass("raynb-logtab");
    this.status = h("span", { testid: "raynb-status" });
    setChip(this.status, status);
    this.panel.setName(jobId);
    this.node.append(
      h("div", { class: "raynb-toolbar" }, h("b", { text: "Job" }),
        h("span", { class: "raynb-mono", testid: "raynb-job-id", text: jobId }), this.status),
      this.panel.el,
    );  // prettier-ignore
    void this.stream();
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.abort.abort();
    this.panel.destroy();
    super.dispose();
  }

  /** The lines before byte `cursor` of the log (the offset of the first line held). */
  private earlier: EarlierLoader = async (n, cursor) => {
    const params = { offset: String(cursor), lines: String(n) };
    const path = this.api.jobPath(this.jobId, "/logs/before");
    const got = await (await this.api.fetch(path, { signal: this.abort.signal }, params)).json();
    return { lines: got.lines, atStart: got.offset === 0, cursor: got.offset };
  };

  /** Where the next connection begins: after the last line shown (by byte offset; by line
   *  count for a log read from its first line), or at the log's last lines. */
  private where(): Record<string, string> {
    if (this.offset !== null) return { offset: String(this.offset) };
    if (this.fromStart) return { skip: String(this.received) };
    if (this.received > 0) {
      this.panel.reset(); // no way to go on exactly: open at the end again
      this.received = 0;
    }
    return { last: String(OPEN_LINES) };
  }

  /** The first batch of a connection that opened the log: where its lines begin. */
  private opened(event: { first_offset?: number | null; at_start?: boolean }): void {
    this.fromStart = Boolean(event.at_start);
    const first = event.first_offset;
    this.panel.setEarlier(this.fromStart || typeof first !== "number" ? null : this.earlier, first ?? 0);
  }

  /** Follows the log until the job ends; retries with backoff while the server or Ray is away. */
  private async stream(): Promise<void> {
    let delay = 1000;
    while (!this.isDisposed) {
      try {
        const params = this.where();
        const opening = "last" in params;
        const response = await this.api.fetch(this.api.jobPath(this.jobId, "/logs"), { signal: this.abort.signal }, params);
        this.panel.setNotice("");
        for await (const event of ndjson(response.body!)) {
          if (event.lines) {
            if (opening && this.received === 0) this.opened(event);
            this.panel.push(this.panel.nextSeq, event.lines);
            this.received += event.lines.length;
            this.offset = typeof event.offset === "number" ? event.offset : null;
            delay = 1000;
          } else if (event.end) {
            setChip(this.status, event.end);
            this.panel.setFinal(`Job ${event.end}${event.message ? `: ${event.message}` : ""}`);
            return;
          } else if (event.error) {
            throw new ApiError(event.error, event.status);
          }
        }
        throw new ApiError("the log stream closed before the job ended", 503);
      } catch (e) {
        if (this.isDisposed) return;
        if (e instanceof ApiError && e.permanent) {
          this.panel.setError(e.message);
          return;
        }
        this.panel.setNotice(`${oneLine(e)} — reconnecting in ${delay / 1000} s`);
        await sleep(delay);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }
}
