// The part of anywidget's model API the widgets use (see PROTOCOL.md).

export type Callback = (...args: any[]) => void;

export interface WidgetModel {
  get(name: string): any;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, cb: Callback): void;
  off(event?: string | null, cb?: Callback | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: unknown[]): void;
}

export interface RenderProps {
  model: WidgetModel;
  el: HTMLElement;
}

/** Subscribes to a model event; returns the unsubscribe function. */
export function listen(model: WidgetModel, event: string, cb: Callback): () => void {
  model.on(event, cb);
  return () => model.off(event, cb);
}
