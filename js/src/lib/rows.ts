// The rows the widgets and the side panel receive, as raynb/rows.py builds them. Their fields
// and types are written in raynb/tables.json ("rows"); the checks at the end stop the type
// check (tsc; tests/test_tables.py runs it) when a field is here and not there, or the reverse.

import type TABLES from "../../../raynb/tables.json";

export type Pair = [number, number];

/** A job: times in Unix ms, the entrypoint clipped to its head and tail, Ray's message in one line. */
export interface JobRow {
  id: string;
  submission_id: string | null;
  job_id: string | null;
  type: string;
  status: string;
  entrypoint: string;
  message: string;
  start_time: number | null;
  end_time: number | null;
  driver_exit_code: number | null;
}

export interface GpuRow {
  name: string;
  utilization: number; // 0-100
  memory: Pair; // bytes used / total
}

/** One node: Ray's logical resources apart from the host's cores and load. */
export interface NodeRow {
  node_id: string;
  hostname: string;
  ip: string;
  is_head: boolean;
  state: string;
  cpus: Pair; // Ray's logical CPUs used / total
  resources: Record<string, Pair>; // every logical resource, custom ones too
  host_cpu_percent: number | null;
  host_cpus: number | null;
  memory: Pair; // the host's
  object_store: Pair;
  gpus: GpuRow[];
}

export interface DeploymentRow {
  name: string;
  status: string;
  replicas: number;
}

export interface ServeAppRow {
  name: string;
  status: string;
  route_prefix: string | null;
  message: string;
  last_deployed_time_s: number | null;
  deployments: DeploymentRow[];
}

type Table = (typeof TABLES)["rows"];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Agrees<T, Name extends keyof Table> = Same<keyof T, keyof Table[Name]>;
type Check<T extends true> = T;
/** Compiles only while every interface here has exactly the fields of its table. */
export type RowsAgreeWithTables = [
  Check<Agrees<JobRow, "job">>,
  Check<Agrees<NodeRow, "node">>,
  Check<Agrees<GpuRow, "gpu">>,
  Check<Agrees<ServeAppRow, "serve_app">>,
  Check<Agrees<DeploymentRow, "deployment">>,
];
