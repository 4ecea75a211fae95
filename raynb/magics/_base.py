"""What every %ray_* magic shares: the connection, output helpers and error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics

from ..client import BadRequestError, RayClient, StreamLimits, UnavailableError
from ..errors import ExecutorError

# The output area keeps only the last lines of a followed log, so memory stays flat
# without the client's default stream limits; a long training log must not be cut.
NOTEBOOK_LIMITS = StreamLimits(max_messages=sys.maxsize, max_lines=sys.maxsize, max_bytes=sys.maxsize)


class RaySession:
    """The notebook's connection to one Ray dashboard, shared by all magics."""

    def __init__(self) -> None:
        self.client: RayClient | None = None
        self.head: Any = None  # the raynb.cluster.LocalHead when we started or reused one
        self.followers: dict[str, Any] = {}  # background log follows by job id

    def connect(self, address: str | None = None, token: str | None = None, local: bool = False) -> RayClient:
        """Connect to ``address`` (client rules); start or reuse a local head if asked or if
        no address was given and nothing answers at the default."""
        self.disconnect()
        if not local:
            client = RayClient(address, token=token, stream_limits=NOTEBOOK_LIMITS)
            try:
                client.get_version()
                self.client = client
                return client
            except UnavailableError:
                client.close()
                if address is not None:
                    raise
        from .. import cluster

        self.head = cluster.ensure_local_head()
        self.client = RayClient(self.head.dashboard_url, token=token, stream_limits=NOTEBOOK_LIMITS)
        return self.client

    def require(self) -> RayClient:
        """The connected client; connects to the default address on first use."""
        if self.client is None:
            client = RayClient(stream_limits=NOTEBOOK_LIMITS)
            try:
                client.get_version()
            except UnavailableError as exc:
                client.close()
                raise UsageError(
                    f"not connected: no Ray dashboard answers at {client.address}; "
                    "run %ray_connect ADDRESS, or %ray_connect --local to start one"
                ) from exc
            self.client = client
        return self.client

    def disconnect(self) -> bool:
        for follower in list(self.followers.values()):
            follower.cancel()
        self.followers.clear()
        if self.client is None:
            return False
        self.client.close()
        self.client = None
        return True


def reports_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input (a 400, or an executor's ValueError) becomes a UsageError; any other raynb
    error propagates. Either way the cell fails ("Run All" stops there) and IPython shows
    one line (raynb errors render themselves: ``RaynbError._render_traceback_``)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except BadRequestError as exc:
            raise UsageError(exc.message) from None
        except ExecutorError as exc:
            if isinstance(exc, ValueError):
                raise UsageError(str(exc)) from None
            raise

    return wrapper


class RayMagicsBase(Magics):
    """Base of the magic classes: access to the shared session and the user namespace."""

    def __init__(self, shell: Any, session: RaySession) -> None:
        super().__init__(shell)
        self.session = session

    @property
    def client(self) -> RayClient:
        return self.session.require()

    def store(self, name: str | None, value: Any) -> None:
        """``--out NAME``: put ``value`` into the user namespace."""
        if name:
            if not name.isidentifier():
                raise UsageError(f"--out needs a Python variable name, got {name!r}")
            self.shell.user_ns[name] = value
