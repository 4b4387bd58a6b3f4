"""The studio: the collector's web pages for experiments and runs, with live updates.

`Studio` wires it onto the collector's app: the page at ``/`` and its static files
(`collectors.studio.pages`), the data routes under ``/api/v1/studio`` and the tag edits
(`collectors.studio.api`), and the live event stream fed by the writer's commits
(`collectors.studio.events`). The pages are plain HTML, CSS and ES modules in
``static/``: no build step, no third-party scripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from collectors.store.protocols import StudioStore
from collectors.studio.api import StudioApi
from collectors.studio.events import EventHub
from collectors.studio.pages import mount_static, page_router
from collectors.writer import Writer

__all__ = ["Studio", "StudioStore"]


class Studio:
    """The studio of one collector.

    Args:
        store: what the pages read.
        writer: whose commits feed the live updates.
    """

    def __init__(self, store: StudioStore, writer: Writer) -> None:
        self.hub = EventHub()
        self.api = StudioApi(store, writer, self.hub)
        writer.add_listener(self.hub.on_commit)

    def install(self, app: FastAPI, dependencies: Sequence[Any]) -> None:
        """Add the studio's routes to *app*; *dependencies* (the token check) guard the data."""
        app.include_router(self.api.router(), dependencies=list(dependencies))
        app.include_router(page_router())
        mount_static(app)

    def close(self) -> None:
        """End the live streams, so that a stopping server need not wait for them."""
        self.hub.close()
