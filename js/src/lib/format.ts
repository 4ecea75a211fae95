// Human-readable formatting and status -> color-kind mapping shared by all widgets.

import { JOB_STATUSES, JOB_TERMINAL, kindOf, type StatusKind } from "./tables";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 3435973837 -> "3.2 GiB"; non-finite or negative -> "–". */
export function formatBytes(n: number | null | undefined): string {
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) return "–";
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  if (i === 0) return `${Math.round(n)} B`;
  return `${n >= 100 ? Math.round(n) : n.toFixed(1)} ${UNITS[i]}`;
}

/** Milliseconds -> "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min", "3 d 4 h". */
export function formatDuration(ms: number | null | undefined): string {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.floor(s);
  const [d, h, m, sec] = [
    Math.floor(total / 86400),
    Math.floor(total / 3600) % 24,
    Math.floor(total / 60) % 60,
    total % 60,
  ];
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min ${sec} s`;
}

/** Unix ms timestamp relative to `now` (ms): "just now", "42 s ago", "2 min ago", "3 h ago", "5 d ago". */
export function formatRelative(ts: number | null | undefined, now: number = Date.now()): string {
  if (typeof ts !== "number" || !Number.isFinite(ts) || ts <= 0) return "–";
  const s = Math.round((now - ts) / 1000);
  if (s < 0) return "in the future";
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Unix ms -> local date and time, for tooltips. */
export function formatLocalTime(ts: number | null | undefined): string {
  if (typeof ts !== "number" || !Number.isFinite(ts) || ts <= 0) return "";
  return new Date(ts).toLocaleString();
}

/** 1234567 -> "1,234,567". */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–";
}

/** A resource quantity without float noise: 2 -> "2", 0.5 -> "0.5", 1/3 -> "0.33". */
export function formatQuantity(n: number | null | undefined): string {
  if (typeof n !== "number" || !Number.isFinite(n)) return "–";
  return String(Math.round(n * 100) / 100);
}

export type { StatusKind } from "./tables";

/** Status string -> color kind (raynb/tables.json; unknown statuses are neutral). `serve`: a
 * Serve application's or deployment's status, where RUNNING is healthy (ok), not busy (run). */
export function statusKind(status: string | null | undefined, serve = false): StatusKind {
  return kindOf(status, serve);
}

export function isTerminalJob(status: string): boolean {
  return JOB_TERMINAL.has(status);
}

/** Submitted and not ended (PENDING, RUNNING): the job statuses that are not terminal. */
export function isActiveJob(status: string): boolean {
  return JOB_STATUSES.includes(status) && !JOB_TERMINAL.has(status);
}

const isoTime = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);

/** "1.2 s" from start to end (or now while running); "" before the start. */
export function elapsed(start: string | null | undefined, end: string | null | undefined, now = Date.now()): string {
  const s = isoTime(start);
  if (!Number.isFinite(s)) return "";
  const e = isoTime(end);
  return formatDuration((Number.isFinite(e) ? e : now) - s);
}

/** Metrics as `k=v` pairs, numbers to 4 significant digits. */
export function formatMetrics(metrics: Record<string, unknown> | null | undefined): string {
  return Object.entries(metrics ?? {})
    .map(([k, v]) => `${k}=${typeof v === "number" && !Number.isInteger(v) ? Number(v.toPrecision(4)) : String(v)}`)
    .join(", ");
}
