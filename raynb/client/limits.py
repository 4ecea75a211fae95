"""StreamLimits: the bounds of one log stream (lines, bytes, messages, line size)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from typing import ClassVar

from ..errors import BadRequestError

_MIB = 1024 * 1024


@dataclass(frozen=True)
class StreamLimits:
    """Bounds on one log stream; passing one raises a 429 after delivering what fit.

    ``max_message_size`` bounds one line (a longer one is cut with a visible marker).
    ``StreamLimits.UNLIMITED`` lifts all but the line size: for views that keep only the last
    lines themselves (the notebook's output area, the widgets, the side panel).
    ``queue_size`` is taken for the seed documents' sake and bounds nothing: raynb keeps no
    queue, a stream is read only as fast as its lines are taken.
    """

    max_messages: int = 10_000
    max_lines: int = 50_000
    max_bytes: int = 50 * _MIB
    max_message_size: int = 10 * 1024
    queue_size: int = 1_000

    UNLIMITED: ClassVar[StreamLimits]

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BadRequestError(f"StreamLimits.{f.name} must be a positive integer, got {value!r}")


StreamLimits.UNLIMITED = StreamLimits(max_messages=sys.maxsize, max_lines=sys.maxsize, max_bytes=sys.maxsize)
