// LogPanel: a virtualized, filterable, follow-mode log view over a LineRing. Only the rows in
// view are in the DOM, whatever the ring holds. Used by LogView, JobsTable's log panel and,
// later, a JupyterLab side panel (it needs only a DOM, no widget model).

import { lineToHtml, plainText } from "./ansi";
import { createBatcher, type Batcher } from "./batch";
import { h, setLine } from "./dom";
import { EarlierBar, type EarlierLoader } from "./earlier";
import { formatCount, statusKind } from "./format";
import { oneLine } from "./requests";
import { FilterIndex, LineRing, type PushResult } from "./ringbuffer";
import { computeLayout, scrollTopFor } from "./virtual";

export interface LogPanelOptions {
  /** Lines held (default 100 000). */
  capacity?: number;
  /** Log area height, CSS length (default 360px; the user can resize it). */
  height?: string;
}

export class LogPanel {
  readonly el: HTMLDivElement;
  private ring: LineRing;
  private index: FilterIndex;
  private scroller: HTMLDivElement;
  private spacer: HTMLDivElement;
  private empty: HTMLDivElement;
  private droppedEl: HTMLDivElement;
  private countEl: HTMLSpanElement;
  private pauseBtn: HTMLButtonElement;
  private resumeBtn: HTMLButtonElement;
  private copyBtn: HTMLButtonElement;
  private finalEl: HTMLDivElement;
  private errorEl: HTMLDivElement;
  private noticeEl: HTMLDivElement;
  private earlier: EarlierBar;
  private rows = new Map<number, HTMLDivElement>(); // ordinal -> row in the DOM
  private pool: HTMLDivElement[] = [];
  private rowH = 0;
  private follow = true;
  private pausedAtOrd = 0;
  private anchor: { ord: number; offset: number } | null = null;
  private expectTop = -1; // scrollTop we set ourselves (its scroll event is not the user's)
  private name = "raynb";
  private batcher: Batcher;
  private resizeObs: ResizeObserver | null = null;
  private copyTimer: ReturnType<typeof setTimeout> | null = null;
  private filterTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(opts: LogPanelOptions = {}) {
    this.ring = new LineRing(opts.capacity ?? 100_000);
    this.index = new FilterIndex(this.ring);
    this.batcher = createBatcher(() => this.render());

    const filter = h("input", {
      class: "raynb-input",
      type: "search",
      placeholder: "Filter lines",
      "aria-label": "Filter lines",
      testid: "raynb-filter",
      on: { input: (e: Event) => this.onFilterInput((e.target as HTMLInputElement).value) },
    });
    this.countEl = h("span", { class: "raynb-count" });
    this.pauseBtn = h("button", {
      class: "raynb-btn",
      testid: "raynb-pause",
      on: { click: () => this.setFollow(!this.follow) },
    });
    this.copyBtn = h("button", {
      class: "raynb-btn",
      testid: "raynb-copy",
      title: "Copy the shown lines (without colors)",
      text: "Copy",
      on: { click: () => void this.copy() },
    });
    const download = h("button", {
      class: "raynb-btn",
      testid: "raynb-download",
      title: "Download the shown lines as a .log file",
      text: "Download",
      on: { click: () => this.download() },
    });
    this.droppedEl = h("div", { class: "raynb-dropped", testid: "raynb-dropped", hidden: true });
    this.earlier = new EarlierBar(this);
    this.empty = h("div", { class: "raynb-log-empty", text: "No output yet." });
    this.spacer = h("div", { class: "raynb-log-spacer" });
    this.scroller = h(
      "div",
      { class: "raynb-log", testid: "raynb-log", tabindex: "0", on: { scroll: () => this.onScroll() } },
      this.empty,
      this.spacer,
    );
    // A log shorter than its view cannot scroll: wheeling up at the top asks for earlier lines.
    this.scroller.addEventListener("wheel", (e) => e.deltaY < 0 && this.onTop(), { passive: true });
    if (opts.height) this.scroller.style.setProperty("--raynb-log-height", opts.height);
    this.resumeBtn = h("button", {
      class: "raynb-btn raynb-resume",
      testid: "raynb-resume",
      hidden: true,
      on: { click: () => this.setFollow(true) },
    });
    this.finalEl = h("div", { class: "raynb-final", testid: "raynb-final", hidden: true });
    this.errorEl = h("div", { class: "raynb-error", testid: "raynb-error", hidden: true });
    this.noticeEl = h("div", { class: "raynb-notice", testid: "raynb-log-notice", hidden: true });
    this.el = h(
      "div",
      { class: "raynb-logpanel" },
      h("div", { class: "raynb-toolbar" }, filter, this.countEl, h("span", { class: "raynb-spacer" }), this.pauseBtn, this.copyBtn, download),
      this.droppedEl,
      this.earlier.el,
      h("div", { class: "raynb-logwrap" }, this.scroller, this.resumeBtn),
      this.finalEl,
      this.errorEl,
      this.noticeEl,
    );
    if (typeof ResizeObserver === "function") {
      this.resizeObs = new ResizeObserver(() => this.batcher.schedule());
      this.resizeObs.observe(this.scroller);
    }
    this.updateControls();
    this.batcher.schedule();
  }

  /** Seq the next line should have (see LineRing.push). */
  get nextSeq(): number {
    return this.ring.nextSeq;
  }

  get capacity(): number {
    return this.ring.capacity;
  }

  push(seq: number, lines: readonly string[], force = false): PushResult {
    const r = this.ring.push(seq, lines, force);
    if (r.added > 0 || force) this.batcher.schedule();
    return r;
  }

  /** Room for lines before the first held one (0 when lines were dropped: see LineRing). */
  get roomBefore(): number {
    return this.ring.roomBefore;
  }

  /** Puts the lines just before the first held one in front; the view stays on its lines. */
  prepend(lines: readonly string[]): boolean {
    const ok = this.ring.prepend(lines);
    if (ok && lines.length > 0) this.batcher.schedule();
    return ok;
  }

  /** Where the lines before the first held one come from, for a log opened at its last
   *  lines (null: nowhere). Scrolling to the top loads them, a batch at a time. */
  setEarlier(loader: EarlierLoader | null, cursor = 0): void {
    this.earlier.set(loader, cursor);
  }

  /** Forgets all lines (new stream) and follows again. */
  reset(): void {
    this.ring.clear();
    this.earlier.reset();
    this.anchor = null;
    this.follow = true;
    this.batcher.schedule();
  }

  setCapacity(n: number): void {
    if (Number.isFinite(n) && n >= 1) {
      this.ring.resize(n);
      this.batcher.schedule();
    }
  }

  /** Stream name, used for the download's file name. */
  setName(name: string): void {
    this.name = name.replace(/[^\w.-]+/g, "_").slice(0, 100) || "raynb";
  }

  /** How the stream ended: one line (the first of `text`), coloured by the job's `status`. */
  setFinal(text: string, status = ""): void {
    const line = oneLine(text);
    setLine(this.finalEl, line);
    this.finalEl.title = line;
    this.finalEl.className = `raynb-final raynb-final-${statusKind(status)}`;
  }

  setError(text: string): void {
    setLine(this.errorEl, text);
  }

  /** Transient state of the panel itself (e.g. a failed resync). */
  setNotice(text: string): void {
    setLine(this.noticeEl, text);
  }

  destroy(): void {
    this.batcher.cancel();
    this.resizeObs?.disconnect();
    if (this.copyTimer) clearTimeout(this.copyTimer);
    if (this.filterTimer) clearTimeout(this.filterTimer);
  }

  /** A new filter rescans every held line (~1 s per million): wait for typing to pause. */
  private onFilterInput(value: string): void {
    if (this.filterTimer) clearTimeout(this.filterTimer);
    this.filterTimer = setTimeout(() => this.setFilter(value), 150);
  }

  private setFilter(value: string): void {
    const q = value.trim().toLowerCase();
    this.index.setPredicate(q ? (line) => plainText(line).toLowerCase().includes(q) : null);
    this.batcher.schedule();
  }

  private setFollow(on: boolean): void {
    if (on === this.follow) return;
    this.follow = on;
    if (on) this.anchor = null;
    else {
      this.pausedAtOrd = this.ring.endOrdinal;
      this.saveAnchor();
    }
    this.updateControls();
    this.batcher.schedule();
  }

  private updateControls(): void {
    this.pauseBtn.textContent = this.follow ? "Pause" : "Follow";
    this.pauseBtn.title = this.follow ? "Stop scrolling to new lines" : "Scroll to new lines as they arrive";
    const fresh = this.ring.endOrdinal - this.pausedAtOrd;
    this.resumeBtn.hidden = this.follow;
    this.resumeBtn.textContent = fresh > 0 ? `Resume ▼ (${formatCount(fresh)} new)` : "Resume ▼";
  }

  /** Rows in the list (matching lines when filtering). */
  private get count(): number {
    return this.index.active ? this.index.length : this.ring.size;
  }

  private ordAt(i: number): number {
    return this.index.active ? this.index.at(i) : this.ring.firstOrdinal + i;
  }

  private indexOfOrd(ord: number): number {
    return this.index.active ? this.index.indexOf(ord) : Math.max(0, ord - this.ring.firstOrdinal);
  }

  /** Lines shown (filtered if a filter is set), as plain text. */
  private shownText(): string {
    const out: string[] = [];
    for (let i = 0, n = this.count; i < n; i++) out.push(plainText(this.ring.get(this.ordAt(i)) as string));
    return out.length ? out.join("\n") + "\n" : "";
  }

  private onScroll(): void {
    const top = this.scroller.scrollTop;
    if (this.expectTop >= 0 && Math.abs(top - this.expectTop) <= 1) {
      this.expectTop = -1;
      return;
    }
    const s = this.scroller;
    const atBottom = s.scrollTop + s.clientHeight >= s.scrollHeight - Math.max(2, this.rowH / 2);
    if (atBottom) this.setFollow(true);
    else {
      this.setFollow(false);
      this.saveAnchor();
    }
    this.onTop();
    this.batcher.schedule();
  }

  /** The user scrolled (or wheeled) at the top: load earlier lines, if there are any. */
  private onTop(): void {
    if (this.rowH > 0 && this.scroller.scrollTop <= this.rowH) void this.earlier.load();
  }

  /** Remembers which line is at the top so that new or evicted lines do not move the view. */
  private saveAnchor(): void {
    const n = this.count;
    if (!this.rowH || n === 0) return;
    const lay = computeLayout(n, this.rowH, this.scroller.clientHeight, this.scroller.scrollTop, 0);
    const i = Math.min(n - 1, Math.floor(lay.contentTop / this.rowH));
    this.anchor = { ord: this.ordAt(i), offset: lay.contentTop - i * this.rowH };
  }

  private measure(): boolean {
    if (this.rowH > 0) return true;
    const probe = this.takeRow();
    probe.textContent = "Mg";
    this.spacer.append(probe);
    this.rowH = probe.getBoundingClientRect().height;
    probe.remove();
    this.pool.push(probe);
    return this.rowH > 0;
  }

  private takeRow(): HTMLDivElement {
    return this.pool.pop() ?? h("div", { class: "raynb-log-line", testid: "raynb-log-line" });
  }

  private render(): void {
    if (this.index.active) this.index.update();
    const n = this.count;
    const dropped = this.ring.dropped;
    setLine(this.droppedEl, dropped > 0 ? `${formatCount(dropped)} ${dropped === 1 ? "line" : "lines"} dropped (not held)` : "");
    const held = `${formatCount(this.ring.size)} ${this.ring.size === 1 ? "line" : "lines"}`;
    this.countEl.textContent = this.index.active ? `${formatCount(n)} of ${held}` : held;
    this.empty.hidden = n > 0;
    this.empty.textContent = this.index.active && this.ring.size > 0 ? "No matching lines." : "No output yet.";
    this.updateControls();
    this.earlier.update();
    if (!this.measure()) return; // not laid out (hidden): the ResizeObserver brings us back

    const viewH = this.scroller.clientHeight;
    let want: number;
    if (this.follow) want = Number.MAX_SAFE_INTEGER;
    else if (this.anchor) {
      const i = this.indexOfOrd(this.anchor.ord);
      want = scrollTopFor(i * this.rowH + this.anchor.offset, n, this.rowH, viewH);
    } else want = this.scroller.scrollTop;
    const total = computeLayout(n, this.rowH, viewH, 0).total;
    this.spacer.style.height = `${total}px`;
    want = Math.min(want, Math.max(0, total - viewH));
    if (Math.abs(this.scroller.scrollTop - want) > 1) {
      this.scroller.scrollTop = want;
      this.expectTop = this.scroller.scrollTop;
    }
    const lay = computeLayout(n, this.rowH, viewH, this.scroller.scrollTop);

    const keep = new Map<number, HTMLDivElement>();
    for (let i = lay.first; i < lay.last; i++) {
      const ord = this.ordAt(i);
      let row = this.rows.get(ord);
      if (row) this.rows.delete(ord);
      else {
        row = this.takeRow();
        row.innerHTML = lineToHtml(this.ring.get(ord) ?? ""); // escaped by lineToHtml
        this.spacer.append(row);
      }
      row.style.top = `${lay.top(i)}px`;
      row.style.height = `${this.rowH}px`;
      keep.set(ord, row);
    }
    for (const row of this.rows.values()) {
      row.remove();
      this.pool.push(row);
    }
    this.rows = keep;
  }

  private async copy(): Promise<void> {
    const text = this.shownText();
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      ok = legacyCopy(text);
    }
    this.copyBtn.textContent = ok ? "Copied ✓" : "Copy failed";
    if (this.copyTimer) clearTimeout(this.copyTimer);
    this.copyTimer = setTimeout(() => (this.copyBtn.textContent = "Copy"), 1500);
  }

  private download(): void {
    const url = URL.createObjectURL(new Blob([this.shownText()], { type: "text/plain;charset=utf-8" }));
    const a = h("a", { href: url, download: `${this.name}.log` });
    a.style.display = "none";
    this.el.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

/** Clipboard fallback for non-secure contexts (plain http to a remote Jupyter). */
function legacyCopy(text: string): boolean {
  const ta = h("textarea", { readonly: true });
  ta.value = text;
  ta.style.position = "fixed";
  ta.style.opacity = "0";
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}
