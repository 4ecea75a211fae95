// The side panel's client of the raynb server extension ({base_url}raynb/api/...).
// Ray is never called from the browser: the server holds the address's token.

import { URLExt } from "@jupyterlab/coreutils";
import { ServerConnection } from "@jupyterlab/services";
import { oneLine } from "../lib/requests";
import type { NodeRow } from "../lib/rows";

/** A failed call: the server's one-line message, its HTTP status (0: no answer) and address. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly address: string | null = null,
  ) {
    super(message);
  }

  /** True when retrying cannot help (bad input, unknown id, auth). */
  get permanent(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

export interface Status {
  address: string;
  source: string;
  token: boolean;
  ray_version: string;
  session_name: string;
  dashboard_url: string;
  dashboard_via: string;
}

// Jobs, nodes and Serve applications come in the widgets' row shapes (raynb/rows.py).
export type { JobRow as Job, NodeRow, ServeAppRow as ServeApp } from "../lib/rows";

export interface Cluster {
  nodes_alive: number;
  nodes_dead: number;
  resources: Record<string, { used: number; total: number }>;
  nodes: NodeRow[];
}

export class RayApi {
  /** The JupyterLab setting; "" lets the server choose (last %ray_connect, env, default). */
  address = "";
  private settings = ServerConnection.makeSettings();

  private url(path: string, params: Record<string, string>): string {
    const query = new URLSearchParams(params);
    if (this.address) query.set("address", this.address);
    const qs = query.toString();
    return URLExt.join(this.settings.baseUrl, "raynb/api", path) + (qs ? `?${qs}` : "");
  }

  /** The response of a call that succeeded, else an ApiError. */
  async fetch(path: string, init: RequestInit = {}, params: Record<string, string> = {}): Promise<Response> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(this.url(path, params), init, this.settings);
    } catch (e) {
      if ((e as Error)?.name === "AbortError") throw e;
      throw new ApiError(`Jupyter server unreachable: ${oneLine(e)}`, 0);
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new ApiError(body.message || `${response.status} ${response.statusText}`, response.status, body.address ?? null);
    }
    return response;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    return (await this.fetch(path, init)).json() as Promise<T>;
  }

  jobPath(id: string, tail = ""): string {
    return `jobs/${encodeURIComponent(id)}${tail}`;
  }
}
