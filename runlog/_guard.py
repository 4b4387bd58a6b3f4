"""Which code runs on runlog's behalf: log records from there must not become log lines.

`INSIDE` is True while a logging handler or processor of runlog records something, and for
the whole life of runlog's own threads (the exporter, the system-metrics sampler). The
handler drops records logged while it is set, so that a record logged from inside runlog
(its internal warnings, httpx's request log in the exporter thread) cannot loop back in.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

INSIDE: ContextVar[bool] = ContextVar("runlog_inside", default=False)


def mark_thread() -> None:
    """Mark the calling thread (a runlog thread) as inside runlog for its whole life."""
    INSIDE.set(True)


#: Record attribute set once a handler or processor of runlog took a record.
SEEN = "_runlog_seen"
#: The last structlog event a `RunlogProcessor` took in this context, and its ``event``:
#: structlog's stdlib integration hands that same dict (or its keys) to `logging` next.
CLAIMED: ContextVar[tuple[dict[str, Any], Any] | None] = ContextVar("runlog_claimed", default=None)
_MISSING = object()
_RECORD = object()


def claim(event_dict: dict[str, Any]) -> None:
    """Note that a processor took *event_dict* (so the stdlib handler skips its record)."""
    CLAIMED.set((event_dict, event_dict.get("event")))


def already_taken(record: logging.LogRecord) -> bool:
    """Tell whether runlog already took *record*; otherwise mark it taken now.

    A record is taken when a handler or processor marked it, or when it carries the event
    dict a processor just claimed: as ``record.msg`` (``ProcessorFormatter.wrap_for_formatter``)
    or as its message and extra attributes (``structlog.stdlib.render_to_log_kwargs``).
    """
    attributes = record.__dict__
    if SEEN in attributes:
        return True
    attributes[SEEN] = True
    claimed = CLAIMED.get()
    if claimed is None:
        return False
    CLAIMED.set(None)
    event_dict, event = claimed
    if record.msg is event_dict:
        return True
    if event is _RECORD:  # a copy of this record (structlog's ProcessorFormatter copies)
        return event_dict.get("msg") is record.msg and event_dict["created"] == record.created
    return record.msg is event and all(
        attributes.get(k, _MISSING) is v for k, v in event_dict.items() if k != "event"
    )


def claim_record(record: logging.LogRecord) -> None:
    """Note that a processor took a copy of *record* (handlers then skip the original)."""
    # The copy's msg is replaced by the rendered text later: keep what it is now.
    CLAIMED.set(({"msg": record.msg, "created": record.created}, _RECORD))
