"""Run the whole collector in one process: store, writer, OTLP/gRPC, HTTP.

``python -m collectors --data-dir runlog-data`` (or `serve` from Python) opens the
SQLite store and the file store under the data directory, starts the writer, the gRPC
receiver and uvicorn, prints one ready line, and on SIGINT/SIGTERM stops accepting, lets
requests in flight finish, drains the writer and closes the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator

import grpc
import uvicorn
from fastapi import FastAPI

from collectors.app import create_app
from collectors.compute import ComputeService, build_service
from collectors.liveness import Sweeper
from collectors.read.run_files import Uploads
from collectors.receive.grpc_server import create_grpc_server
from collectors.receive.ingest import Ingestor
from collectors.settings import Settings
from collectors.store import LocalFileStore, open_store
from collectors.store.files import FileStore
from collectors.store.sql import SQLStore, safe_url
from collectors.studio.replicas import CommitRelay
from collectors.writer import Writer
from runlog.exceptions import ConfigError

logger = logging.getLogger("collectors")
_GRPC_GRACE_SECONDS = 5.0


class _Server(uvicorn.Server):
    """uvicorn without re-raising the stop signal afterwards, so cleanup can run.

    *before_shutdown* runs first when it stops: it ends the studio's event streams, which
    never end by themselves, so the wait for open connections below can finish.
    """

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                # uvicorn re-raises captured signals on exit, which would kill the process
                # before the writer is drained; the shutdown is already graceful.
                self._captured_signals.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._before_shutdown()
        await super().shutdown(sockets)


def ready_line(settings: Settings, grpc_port: int | None) -> str:
    """The line printed once the collector accepts connections."""
    grpc_part = f"grpc {settings.host}:{grpc_port}" if grpc_port else "grpc off"
    return (
        f"runlog collector listening on http://{settings.host}:{settings.port} "
        f"(OTLP/HTTP, query API), {grpc_part}, data {settings.data_dir}"
        + (f", store {safe_url(settings.store)}" if settings.store else "")
    )


def bind_http(host: str, port: int) -> socket.socket:
    """Bind the HTTP socket now, so a busy port fails before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP, not create_server's 0: accepted sockets inherit it, and
    # asyncio turns Nagle off (TCP_NODELAY) only for IPPROTO_TCP sockets. With Nagle on,
    # uvicorn's separate header and body writes stall ~40 ms on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        return sock
    except OSError as exc:
        sock.close()
        raise OSError(
            f"cannot listen on {host}:{port} ({exc}); is another collector running?"
        ) from exc


def serve(settings: Settings) -> None:
    """Run the collector until SIGINT or SIGTERM.

    Raises:
        ConfigError: the settings are unsafe (e.g. a public host without a token).
        OSError: a port is taken or the data directory cannot be created.
        StoreUnavailableError: the store's database cannot be reached (an `OSError`).
        SchemaOutdatedError: the store's schema is outdated and *migrate* is off.
    """
    settings.check()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sock = bind_http(settings.host, settings.port)
    store: SQLStore | None = None
    try:
        store = open_store(settings.store_url, migrate=settings.migrate_at_start)
        files = _open_files(settings)
    except BaseException:
        sock.close()
        if store is not None:
            store.close()
        raise
    writer = Writer(store)
    writer.start()
    sweeper = _start_sweeper(writer, settings)
    grpc_server: grpc.Server | None = None
    relay: CommitRelay | None = None
    compute = build_service(store, files, writer, settings)
    try:
        app = create_app(store, files, writer, settings, compute=compute)
        ingestor: Ingestor = app.state.ingestor
        grpc_port = settings.grpc_port
        if grpc_port is not None:
            grpc_server, grpc_port = create_grpc_server(
                ingestor, settings.host, grpc_port, settings.token, settings.max_body_bytes
            )
            grpc_server.start()
        relay = _start_relay(store, writer, app)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        uploads: Uploads = app.state.uploads
        server = _Server(config, app.state.studio.close)
        asyncio.run(_run_http(server, sock, settings, grpc_port, ingestor, uploads, compute))
    finally:
        compute.stop()
        if relay is not None:
            relay.stop()
        _shutdown(grpc_server, sweeper, writer, store)


async def _run_http(
    server: _Server,
    sock: socket.socket,
    settings: Settings,
    grpc_port: int | None,
    ingestor: Ingestor,
    uploads: Uploads,
    compute: ComputeService,
) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        compute.start()
        print(ready_line(settings, grpc_port), flush=True)
        if settings.replay_spool:
            _start_replay(settings, ingestor, uploads)
    await task


def _start_relay(store: SQLStore, writer: Writer, app: FastAPI) -> CommitRelay | None:
    """On PostgreSQL, live studio updates from the other collectors sharing the store."""
    if store.backend != "postgresql":
        return None
    url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    relay = CommitRelay(url, app.state.studio.hub)
    writer.add_listener(relay.publish)
    relay.start()
    return relay


def _open_files(settings: Settings) -> FileStore:
    """The run files' store: *settings.files* (checked now), else the data directory's."""
    if settings.files is None:
        return LocalFileStore(settings.files_dir)
    try:
        from collectors.store.object_files import FsspecFileStore

        remote = FsspecFileStore(settings.files)
    except (ImportError, ValueError) as exc:
        raise ConfigError(
            f"cannot use --files {settings.files}: {exc} "
            "(s3:// needs `pip install 'runlog-ml[s3]'`)"
        ) from exc
    remote.check()
    return remote


def _start_sweeper(writer: Writer, settings: Settings) -> Sweeper | None:
    if not settings.heartbeat_timeout_s:
        return None
    sweeper = Sweeper(writer, settings.heartbeat_timeout_s, settings.dead_after_s)
    sweeper.start()
    return sweeper


def _shutdown(
    grpc_server: grpc.Server | None, sweeper: Sweeper | None, writer: Writer, store: SQLStore
) -> None:
    if grpc_server is not None:
        grpc_server.stop(_GRPC_GRACE_SECONDS).wait()
    if sweeper is not None:
        sweeper.stop()
    writer.stop()
    store.close()
    print("runlog collector stopped", flush=True)


def _start_replay(settings: Settings, ingestor: Ingestor, uploads: Uploads) -> None:
    from collectors.receive.replay import replay_spool  # only when asked: imports the client spool

    thread = threading.Thread(
        target=replay_spool,
        args=(settings.spool_dir, ingestor, uploads),
        kwargs={"listening": (settings.host, settings.port)},
        name="runlog-spool-replay",
        daemon=True,
    )
    thread.start()
