// Tiny DOM helpers. Cluster-provided values only ever go through textContent / attributes.

import { statusKind } from "./format";

type Child = Node | string | null | undefined | false;

export interface Attrs {
  class?: string;
  testid?: string;
  text?: string;
  title?: string;
  on?: Partial<Record<keyof HTMLElementEventMap, (ev: any) => void>>;
  [attr: string]: unknown;
}

/** Creates an element; `text` sets textContent, other string/number attrs are attributes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = String(v);
    else if (k === "testid") el.setAttribute("data-testid", String(v));
    else if (k === "text") el.textContent = String(v);
    else if (k === "on") {
      for (const [ev, fn] of Object.entries(v as object)) el.addEventListener(ev, fn);
    } else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** A colored status chip (text only); `serve`: a Serve application's or deployment's status. */
export function chip(status: string | null | undefined, serve = false): HTMLSpanElement {
  const s = String(status ?? "");
  return h("span", { class: `raynb-chip raynb-chip-${statusKind(s, serve)}`, text: s || "–" });
}

/** Sets a chip element's text and color for `status`. */
export function setChip(el: HTMLElement, status: string | null | undefined, serve = false): void {
  const s = String(status ?? "");
  el.className = `raynb-chip raynb-chip-${statusKind(s, serve)}`;
  el.textContent = s || "–";
}

/** A horizontal usage bar; `fraction` in [0, 1] (NaN: empty), colored by level. */
export function bar(fraction: number, label: string, title = label): HTMLDivElement {
  const f = Number.isFinite(fraction) ? Math.max(0, Math.min(1, fraction)) : 0;
  const level = f >= 0.9 ? "err" : f >= 0.75 ? "warn" : "ok";
  const fill = h("div", { class: `raynb-bar-fill raynb-bar-${level}` });
  fill.style.width = `${(f * 100).toFixed(1)}%`;
  return h(
    "div",
    { class: "raynb-bar", title },
    h("div", { class: "raynb-bar-track" }, fill),
    h("span", { class: "raynb-bar-label", text: label }),
  );
}

/** Shows `text` in `el` (hidden when empty). */
export function setLine(el: HTMLElement, text: string | null | undefined): void {
  el.textContent = text ? String(text) : "";
  el.hidden = !text;
}

/** Adds the widget's <style> to its root (scoped by raynb- class names). */
export function injectStyle(root: HTMLElement, css: string): void {
  root.append(h("style", { text: css }));
}
