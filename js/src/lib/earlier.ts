// The bar above a log opened at its last lines: scrolling to the top (or a click) loads the
// lines just before the first one held, until the log's first line.

import { h } from "./dom";
import { formatCount } from "./format";
import { oneLine } from "./requests";

/** Lines just before those held, whether they reach the log's first line, and the cursor
 *  of the next call. */
export interface EarlierLines {
  lines: string[];
  atStart: boolean;
  cursor: number;
}

/** Loads up to `n` lines just before the place `cursor` names (the loader's own numbering: a
 *  count of lines, a byte offset...); the bar keeps a reply's cursor once its lines are shown. */
export type EarlierLoader = (n: number, cursor: number) => Promise<EarlierLines>;

/** What the bar fills: a LogPanel. */
interface Target {
  readonly roomBefore: number;
  readonly capacity: number;
  prepend(lines: readonly string[]): boolean;
}

export const EARLIER_BATCH = 1000;

export class EarlierBar {
  readonly el: HTMLButtonElement;
  private loader: EarlierLoader | null = null;
  private cursor = 0;
  private done = false; // the log's first line is held (or was)
  private loading = false;
  private error = "";

  constructor(private target: Target) {
    this.el = h("button", {
      class: "raynb-earlier",
      testid: "raynb-earlier",
      hidden: true,
      on: { click: () => void this.load() },
    });
  }

  /** Where earlier lines come from, and the cursor of the first held line (loader null:
   *  nowhere, the first line held is the log's first). A loader already set is kept. */
  set(loader: EarlierLoader | null, cursor = 0): void {
    if (loader === this.loader) return;
    this.loader = loader;
    this.cursor = cursor;
    this.error = "";
    this.update();
  }

  /** A new log: no loader until set() again. */
  reset(): void {
    this.loader = null;
    this.done = false;
    this.loading = false;
    this.error = "";
    this.update();
  }

  /** Loads one batch (no-op while one loads, at the start, or without room). */
  async load(): Promise<void> {
    const loader = this.loader;
    const n = Math.min(EARLIER_BATCH, this.target.roomBefore);
    if (!loader || this.done || this.loading || n <= 0) return;
    this.loading = true;
    this.error = "";
    this.update();
    try {
      const got = await loader(n, this.cursor);
      if (loader !== this.loader) return; // another log meanwhile
      if (this.target.prepend(got.lines)) {
        this.cursor = got.cursor;
        this.done = got.atStart;
      }
    } catch (e) {
      if (loader === this.loader) this.error = oneLine(e);
    } finally {
      if (loader === this.loader) this.loading = false;
      this.update();
    }
  }

  /** Shows what the user can do (called on every render: the room changes as lines arrive). */
  update(): void {
    const el = this.el;
    el.hidden = !this.loader || this.done;
    el.disabled = this.loading || this.target.roomBefore <= 0;
    if (this.loading) el.textContent = "Loading earlier lines…";
    else if (this.target.roomBefore <= 0) {
      el.textContent = `Earlier lines not loaded: this view holds ${formatCount(this.target.capacity)} lines`;
    } else if (this.error) el.textContent = `Could not load earlier lines: ${this.error} — click to retry`;
    else el.textContent = "▲ Earlier lines: scroll up or click to load";
  }
}
