// raynb's shared tables: raynb/tables.json, the file Python reads too (raynb/tables.py), bundled
// into every widget and the side panel at build time. Edit the JSON, never a copy here.

import TABLES from "../../../raynb/tables.json";

export type StatusKind = "ok" | "run" | "warn" | "err" | "idle";

const kinds = (table: Record<string, string>) => table as Record<string, StatusKind>;

/** Jobs, nodes, actors, tasks, pipeline runs and actions: status -> colour kind. */
export const STATUSES = kinds(TABLES.statuses);
/** Serve applications and deployments (RUNNING is their healthy steady state). */
export const SERVE_STATUSES = kinds(TABLES.serve_statuses);
const PREFIXES = Object.entries(kinds(TABLES.status_prefixes));
const WORDS = Object.entries(kinds(TABLES.status_words));
const UNKNOWN = TABLES.unknown_kind as StatusKind;

/** A status's colour kind, case-insensitive; `serve`: a Serve application's or deployment's. */
export function kindOf(status: string | null | undefined, serve = false): StatusKind {
  const name = String(status ?? "").toUpperCase(); // upper case: never an Object.prototype key
  const [first, second] = serve ? [SERVE_STATUSES, STATUSES] : [STATUSES, SERVE_STATUSES];
  const kind = first[name] ?? second[name];
  if (kind) return kind;
  for (const [prefix, k] of PREFIXES) if (name.startsWith(prefix)) return k;
  return WORDS.find(([word]) => name.includes(word))?.[1] ?? UNKNOWN;
}

export const JOB_STATUSES: readonly string[] = TABLES.job_statuses;
export const JOB_TERMINAL: ReadonlySet<string> = new Set(TABLES.terminal.job);
export const PIPELINE_TERMINAL: ReadonlySet<string> = new Set(TABLES.terminal.pipeline_run);
export const ACTION_ICONS: Readonly<Record<string, string>> = TABLES.action_icons;

/** Ray's built-in resources in display order: name -> label (first letter capitalised) and unit. */
export const RESOURCES: readonly { name: string; label: string; bytes: boolean }[] = Object.entries(
  TABLES.resources,
).map(([name, [label, bytes]]) => ({
  name,
  label: String(label).charAt(0).toUpperCase() + String(label).slice(1),
  bytes: bytes === true,
}));
