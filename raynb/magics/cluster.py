"""Cluster magics: %ray_connect, %ray_disconnect, %ray_status, %ray_nodes, %ray_tasks, %ray_actors."""

from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from .. import render
from ..server.state import remember_connect
from ._base import RayMagicsBase, reports_errors


def _list_arguments(func):
    """The options every state listing shares."""
    for arg in (
        argument("--filter", "-f", action="append", default=[], metavar="KEY=VALUE",
                 help="filter rows, e.g. state=RUNNING or name!=f (repeatable)"),
        argument("--job", metavar="JOB_ID", help="only rows of this Ray job id (hex, e.g. 02000000)"),
        argument("--limit", type=int, default=100, help="rows to fetch, up to 10000 (default 100)"),
        argument("--out", metavar="NAME", help="store the result in this variable"),
    ):
        func = arg(func)
    return func


@magics_class
class ClusterMagics(RayMagicsBase):
    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("address", nargs="?", help="dashboard URL (default: RAY_API_SERVER_ADDRESS, "
              "RAY_ADDRESS or http://127.0.0.1:8265)")
    @argument("--token", help="Ray auth token (default: RAY_AUTH_TOKEN or ~/.ray/auth_token)")
    @argument("--local", action="store_true", help="start (or reuse) a local Ray head on 127.0.0.1")
    def ray_connect(self, line: str = "") -> None:
        """Connect the notebook to a Ray dashboard and show the cluster.

        With no address and nothing answering at the default, a local head is started.
        The JupyterLab Ray side panel then shows this cluster too.
        """
        args = parse_argstring(self.ray_connect, line)
        client = self.session.connect(args.address, token=args.token, local=args.local)
        remember_connect(client.address)  # the JupyterLab side panel follows it (no token)
        display(render.cluster_card(client.get_cluster_status(), client.get_version(), client.address))

    @line_magic
    def ray_disconnect(self, line: str = "") -> None:
        """Close the connection to the Ray dashboard (the cluster keeps running)."""
        print("Disconnected." if self.session.disconnect() else "Not connected.")

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("--out", metavar="NAME", help="store the ClusterStatus in this variable")
    def ray_status(self, line: str = "") -> None:
        """Cluster summary: nodes alive/dead, resources used/total, pending demand."""
        args = parse_argstring(self.ray_status, line)
        status = self.client.get_cluster_status()
        self.store(args.out, status)
        display(render.cluster_card(status, address=self.client.address))

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("--limit", type=int, default=1000, help="nodes to fetch (default 1000)")
    @argument("--out", metavar="NAME", help="store the nodes in this variable")
    def ray_nodes(self, line: str = "") -> None:
        """Nodes of the cluster with their state and resources."""
        args = parse_argstring(self.ray_nodes, line)
        nodes = self.client.list_nodes(limit=args.limit)
        self.store(args.out, nodes)
        display(render.node_table(nodes))

    @line_magic
    @reports_errors
    @magic_arguments()
    @_list_arguments
    def ray_tasks(self, line: str = "") -> None:
        """Tasks of the cluster, e.g. ``%ray_tasks --filter state=RUNNING --job 02000000``."""
        args = parse_argstring(self.ray_tasks, line)
        tasks = self.client.list_tasks(filters=self._filters(args), limit=args.limit)
        self.store(args.out, tasks)
        display(render.task_table(tasks))

    @line_magic
    @reports_errors
    @magic_arguments()
    @_list_arguments
    def ray_actors(self, line: str = "") -> None:
        """Actors of the cluster, e.g. ``%ray_actors --filter state=ALIVE``."""
        args = parse_argstring(self.ray_actors, line)
        actors = self.client.list_actors(filters=self._filters(args), limit=args.limit)
        self.store(args.out, actors)
        display(render.actor_table(actors))

    @staticmethod
    def _filters(args) -> list[str]:
        return [*args.filter, *([f"job_id={args.job}"] if args.job else [])]
