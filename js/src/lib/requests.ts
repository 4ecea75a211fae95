// Request/reply over the widget comm (PROTOCOL.md "request" / "reply" messages).

import { listen, type WidgetModel } from "./model";

interface Pending {
  resolve: (v: any) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface RequestOptions {
  /** Default reply timeout in ms (default 10 000). */
  timeoutMs?: number;
  /** First request id; default: random, so that two views of one model (which both receive
   *  every reply) do not take each other's replies. */
  firstId?: number;
}

export class RequestClient {
  private nextId: number;
  private pending = new Map<number, Pending>();
  private unlisten: () => void;
  private timeoutMs: number;

  constructor(
    private model: WidgetModel,
    opts: RequestOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.nextId = opts.firstId ?? Math.floor(Math.random() * 1e9) * 1000 + 1;
    this.unlisten = listen(model, "msg:custom", (msg: unknown) => this.onMessage(msg));
  }

  /** Sends `method(args)`; resolves with `result`, rejects with the reply's one-line error
   *  or on timeout. */
  request<T = any>(method: string, args: object = {}, timeoutMs = this.timeoutMs): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        const secs = Math.round(timeoutMs / 100) / 10;
        reject(new Error(`${method}: no reply from the kernel in ${secs} s (is it busy?)`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.model.send({ type: "request", id, method, args });
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${method}: could not send: ${oneLine(e)}`));
      }
    });
  }

  private onMessage(msg: any): void {
    if (!msg || msg.type !== "reply") return;
    const p = this.pending.get(msg.id);
    if (!p) return; // another view's request, or already timed out
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(oneLine(msg.error ?? "request failed")));
  }

  /** Stops listening; pending requests reject with "closed". */
  dispose(): void {
    this.unlisten();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("closed"));
    }
    this.pending.clear();
  }
}

/** Any error value -> one line of text. */
export function oneLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.split(/\r?\n/).find((l) => l.trim() !== "")?.trim() ?? "";
}
