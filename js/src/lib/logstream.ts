// Binds a LogPanel to one stream of a widget model: "lines" / "reset" messages and "resync"
// requests (PROTOCOL.md). A batch that starts after the next expected seq is a gap: it is
// held back and a resync from the next expected seq is requested; the reply is applied, then
// the held batches. If the kernel does not answer (busy), the held batches are shown anyway
// and the hole counts as dropped.

import type { LogPanel } from "./logpanel";
import { listen, type WidgetModel } from "./model";
import { oneLine, type RequestClient } from "./requests";

interface LinesMsg {
  type: "lines";
  stream: string;
  seq: number;
  lines: string[];
}

interface ResyncResult {
  seq: number;
  lines: string[];
}

export interface LogStreamOptions {
  /** Resync reply timeout, ms (default 5000). */
  resyncTimeoutMs?: number;
  /** Called with the new stream name when a "reset" message switches stream. */
  onReset?: (stream: string) => void;
}

export class LogStream {
  private stream = "";
  private gen = 0; // bumped on every switch/reset: stale replies are ignored
  private pending = false;
  private held: LinesMsg[] = [];
  private heldLines = 0;
  private retryMs = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private unlisten: () => void;
  private closed = false;

  constructor(
    model: WidgetModel,
    private client: RequestClient,
    private panel: LogPanel,
    private opts: LogStreamOptions = {},
  ) {
    this.unlisten = listen(model, "msg:custom", (msg: any) => this.onMessage(msg));
  }

  get current(): string {
    return this.stream;
  }

  /** Shows stream `name` ("" for none); a new name clears the panel and resyncs from 0. */
  setStream(name: string): void {
    if (name === this.stream) return;
    this.restart(name);
  }

  dispose(): void {
    this.closed = true;
    this.unlisten();
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private restart(name: string): void {
    this.stream = name;
    this.gen++;
    this.pending = false;
    this.held = [];
    this.heldLines = 0;
    this.retryMs = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.panel.reset();
    this.panel.setName(name);
    this.panel.setNotice("");
    if (name) this.resync();
  }

  private onMessage(msg: any): void {
    if (!msg || typeof msg !== "object" || this.closed) return;
    if (msg.type === "reset" && typeof msg.stream === "string") {
      this.restart(msg.stream);
      this.opts.onReset?.(msg.stream);
    } else if (msg.type === "lines" && msg.stream === this.stream && this.stream) {
      if (typeof msg.seq !== "number" || !Array.isArray(msg.lines)) return;
      this.onLines(msg as LinesMsg);
    }
  }

  private onLines(msg: LinesMsg): void {
    if (this.held.length === 0 && this.panel.push(msg.seq, msg.lines).gap === null) return;
    this.hold(msg);
    if (!this.pending) this.resync();
  }

  private hold(msg: LinesMsg): void {
    this.held.push(msg);
    this.heldLines += msg.lines.length;
    // Never hold more than the panel can show: older held batches would be evicted anyway.
    while (this.held.length > 1 && this.heldLines - this.held[0].lines.length >= this.panel.capacity) {
      this.heldLines -= (this.held.shift() as LinesMsg).lines.length;
    }
  }

  /** Requests the lines the kernel holds from the next expected seq on. */
  private resync(): void {
    const gen = this.gen;
    this.pending = true;
    this.client
      .request<ResyncResult>(
        "resync",
        { stream: this.stream, from_seq: this.panel.nextSeq },
        this.opts.resyncTimeoutMs ?? 5000,
      )
      .then(
        (res) => {
          if (gen !== this.gen || this.closed) return;
          if (res && typeof res.seq === "number" && Array.isArray(res.lines)) {
            this.panel.push(res.seq, res.lines, true);
          }
          this.retryMs = 0;
          this.flushHeld();
        },
        (err) => {
          if (gen !== this.gen || this.closed) return;
          if (this.held.length > 0) {
            this.flushHeld(); // show what arrived; the hole counts as dropped
          } else {
            this.pending = false;
            this.panel.setNotice(`Could not load earlier lines: ${oneLine(err)}`);
            this.scheduleRetry(gen);
          }
        },
      );
  }

  private flushHeld(): void {
    this.pending = false;
    const held = this.held;
    this.held = [];
    this.heldLines = 0;
    for (const m of held) this.panel.push(m.seq, m.lines, true);
  }

  /** Retries a failed resync (nothing shown yet) with backoff up to 30 s. */
  private scheduleRetry(gen: number): void {
    this.retryMs = Math.min(30_000, this.retryMs ? this.retryMs * 2 : 2000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (gen !== this.gen || this.closed || this.pending) return;
      this.panel.setNotice("");
      this.resync();
    }, this.retryMs);
  }
}
