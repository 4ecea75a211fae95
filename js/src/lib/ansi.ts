// One raw log line -> safe HTML (ansi_up, HTML-escaped) or plain text.
//
// Each line is converted on its own (no SGR state carried between lines), so any row of a
// virtualized list can be rendered independently.

import { AnsiUp } from "ansi_up";

// ESC [ params intermediates final, and OSC ... (BEL | ESC \); used for the plain-text form.
const ANSI_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?/g;

/** Terminal semantics for "\r": keep the text after the last "\r" (a trailing "\r" is ignored). */
export function collapseCR(line: string): string {
  let end = line.length;
  while (end > 0 && line.charCodeAt(end - 1) === 13) end--;
  const s = end === line.length ? line : line.slice(0, end);
  const i = s.lastIndexOf("\r");
  return i < 0 ? s : s.slice(i + 1);
}

/** NUL bytes are shown as the visible symbol "␀". */
function showNul(s: string): string {
  return s.indexOf("\0") < 0 ? s : s.replace(/\0/g, "\u2400");
}

/** The line as the user reads it: \r collapsed, ANSI escapes removed, NUL visible. */
export function plainText(line: string): string {
  return showNul(collapseCR(line).replace(ANSI_RE, ""));
}

function newConverter(): AnsiUp {
  const au = new AnsiUp();
  au.escape_html = true; // the default, set explicitly: cluster text is never markup
  au.use_classes = true; // 16 colors as classes: theme-aware palette in styles.ts
  au.url_allowlist = { http: 1, https: 1 }; // OSC 8 links: http(s) only
  return au;
}

/**
 * The line as HTML: escaped text in <span>s with ansi-* classes (or inline rgb for 256/true
 * colors); OSC 8 links open in a new tab. Safe for innerHTML.
 */
export function lineToHtml(line: string): string {
  const text = showNul(collapseCR(line));
  if (text.indexOf("\x1b") < 0) return escapeHtml(text);
  // A fresh converter for a line with escapes: ansi_up keeps SGR state and incomplete
  // sequences between calls, and lines must not affect each other.
  const html = newConverter().ansi_to_html(text);
  return html.replace(/<a href="/g, '<a target="_blank" rel="noopener noreferrer" href="');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#x27;",
  );
}
