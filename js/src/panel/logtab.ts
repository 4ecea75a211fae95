// A job's live log in a JupyterLab main-area tab: LogPanel (ring buffer, virtual scrolling,
// ANSI) fed by the server extension's NDJSON stream; a broken stream resumes after the
// lines already shown.

import { Widget } from "@lumino/widgets";
import { h, setChip } from "../lib/dom";
import { LogPanel } from "../lib/logpanel";
import { oneLine } from "../lib/requests";
import { ApiError, type RayApi } from "./api";
import { ndjson } from "./ndjson";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class JobLogWidget extends Widget {
  private panel = new LogPanel();
  private status: HTMLSpanElement;
  private received = 0;
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

  /** Follows the log until the job ends; retries with backoff while the server or Ray is away. */
  private async stream(): Promise<void> {
    let delay = 1000;
    while (!this.isDisposed) {
      try {
        const params = { skip: String(this.received) };
        const response = await this.api.fetch(this.api.jobPath(this.jobId, "/logs"), { signal: this.abort.signal }, params);
        this.panel.setNotice("");
        for await (const event of ndjson(response.body!)) {
          if (event.lines) {
            this.panel.push(this.panel.nextSeq, event.lines);
            this.received += event.lines.length;
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
