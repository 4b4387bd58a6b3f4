"""Live studio updates across collectors that share one PostgreSQL.

Each collector's `EventHub` hears only its own writer's commits. With several collectors on
one store, `CommitRelay` passes what each one committed to the others through PostgreSQL's
``LISTEN``/``NOTIFY``: after a commit it sends the same change summary the hub folds
(`Changes`, a few hundred bytes) on a channel named after the store, and a thread listening
on that channel hands the other collectors' summaries to their hubs. A summary too long for
a notification (8,000 bytes) becomes a resync, which makes open pages reload.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Sequence
from typing import Any, Final

import xxhash

from collectors.ops import Op
from collectors.studio.events import Changes, EventHub

__all__ = ["CommitRelay"]

logger = logging.getLogger(__name__)
_MAX_PAYLOAD: Final = 7_900


class CommitRelay:
    """Publishes this collector's commits and feeds the others' into *hub*.

    Args:
        dsn: the store's libpq connection string or URI (``postgresql://…``).
        hub: this collector's studio event hub.
    """

    def __init__(self, dsn: str, hub: EventHub) -> None:
        import psycopg

        self._dsn = dsn
        self._hub = hub
        self._id = uuid.uuid4().hex
        self.channel = f"runlog_studio_{xxhash.xxh64_hexdigest(dsn.encode())}"
        self._send = psycopg.connect(dsn, autocommit=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="runlog-relay", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start listening for the other collectors' commits."""
        self._thread.start()

    def publish(self, committed: Sequence[Sequence[Op]]) -> None:
        """The writer's listener: tell the other collectors what was committed."""
        changes = Changes()
        for ops in committed:
            for op in ops:
                changes.add(op)
        if not changes:
            return
        payload = json.dumps({"from": self._id, "changes": changes.as_json()})
        if len(payload) > _MAX_PAYLOAD:
            payload = json.dumps({"from": self._id, "resync": True})
        try:
            with self._lock:
                self._send.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
        except Exception as exc:  # the database is away: the pages reload when it is back
            logger.warning("could not tell other collectors about a commit: %s", exc)
            self._reconnect()

    def stop(self) -> None:
        """Stop listening and close the connections."""
        self._stop.set()
        self._thread.join(5)
        self._send.close()

    def _reconnect(self) -> None:
        import psycopg

        with self._lock:
            try:
                self._send.close()
                self._send = psycopg.connect(self._dsn, autocommit=True)
            except psycopg.Error:
                pass  # tried again at the next commit

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._deliver(note.payload)
            except psycopg.Error as exc:
                logger.warning("live updates from other collectors paused: %s", exc)
                self._stop.wait(2.0)

    def _deliver(self, payload: str) -> None:
        try:
            message: dict[str, Any] = json.loads(payload)
        except ValueError:
            return
        if message.get("from") != self._id:
            self._hub.on_remote(message.get("changes") or {}, resync=bool(message.get("resync")))
