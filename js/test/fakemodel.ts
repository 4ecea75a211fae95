// An in-memory stand-in for anywidget's model: traits, events, sent messages.
import type { Callback, WidgetModel } from "../src/lib/model";

export class FakeModel implements WidgetModel {
  sent: any[] = [];
  saves = 0;
  private handlers = new Map<string, Set<Callback>>();

  constructor(public state: Record<string, any> = {}) {}

  get(name: string) {
    return this.state[name];
  }
  set(name: string, value: unknown) {
    this.state[name] = value;
  }
  save_changes() {
    this.saves++;
  }
  on(event: string, cb: Callback) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(cb);
  }
  off(event?: string | null, cb?: Callback | null) {
    if (event && cb) this.handlers.get(event)?.delete(cb);
  }
  send(content: unknown) {
    this.sent.push(content);
  }
  /** Python -> JS custom message. */
  emit(msg: unknown) {
    for (const cb of this.handlers.get("msg:custom") ?? []) cb(msg, []);
  }
  /** Python changes a trait. */
  change(name: string, value: unknown) {
    this.state[name] = value;
    for (const cb of this.handlers.get(`change:${name}`) ?? []) cb();
  }
  listeners(event: string) {
    return this.handlers.get(event)?.size ?? 0;
  }
  requests(method?: string) {
    return this.sent.filter((m) => m.type === "request" && (!method || m.method === method));
  }
  reply(req: any, result: unknown) {
    this.emit({ type: "reply", id: req.id, ok: true, result });
  }
}
