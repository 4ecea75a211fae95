"""Serve magic: %ray_serve [list | get NAME | delete NAME]."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from .. import render
from ._base import RayMagicsBase, reports_errors


@magics_class
class ServeMagics(RayMagicsBase):
    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("action", nargs="?", default="list", choices=["list", "get", "delete"],
              help="list applications (default), get one, or delete one")
    @argument("name", nargs="?", help="application name for get and delete")
    @argument("--out", metavar="NAME", help="store the result in this variable")
    def ray_serve(self, line: str = "") -> None:
        """Ray Serve applications: ``%ray_serve``, ``%ray_serve get NAME``, ``%ray_serve delete NAME``."""
        args = parse_argstring(self.ray_serve, line)
        if args.action == "list":
            apps = self.client.list_serve_applications()
            self.store(args.out, apps)
            display(render.serve_table(apps))
            return
        if not args.name:
            raise UsageError(f"%ray_serve {args.action} needs an application name")
        if args.action == "get":
            app = self.client.get_serve_application(args.name)
            self.store(args.out, app)
            display(render.serve_table([app]))
        else:
            self.client.delete_serve_application(args.name)
            print(f"Deleting Serve application {args.name}.")
