"""SQLite and PostgreSQL side by side: `python bench/store_backends.py` prints a table.

Every row is measured on both backends in the same run (medians of ``--repeat``), through
real collector processes (``--store URL``), and reported with the ratio PostgreSQL/SQLite:

* packed ingest (runlog's wire format, 100k points per record), points/s, with one
  collector, and with three collectors on one store, each fed by its own client thread;
* reading a 1,000,000-point vector through the query API (binary), ms;
* a search over 10,000 runs with a metric filter and a sort (``metrics.acc > 0.5``,
  ``metrics.acc DESC``, first page of 100) through the query API, ms (target <= 100 ms on
  SQLite; MLflow's server takes ~0.27 s for 2,000 runs filtered on this machine);
* bytes on disk per stored point of the 1M-point vector (SQLite: the database file after a
  checkpoint; PostgreSQL: the metric tables' total relation size).

PostgreSQL must answer at 127.0.0.1:5432 (user postgres, trust auth, database ``test``);
the benchmark creates a scratch database and drops it afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from core import Collector, median_of, packed_bodies, post_all

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
SEARCH_RUNS = 10_000


@contextmanager
def postgres_url() -> Iterator[str]:
    """A scratch PostgreSQL database, migrated; dropped on exit."""
    import psycopg

    name = f"runlog_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextmanager
def collectors(url: str, tmp: Path, count: int) -> Iterator[list[Collector]]:
    with ExitStack() as stack:
        started = []
        for i in range(count):
            node = Collector(tmp / f"node{i}-{uuid.uuid4().hex[:6]}", ["--store", url, "--migrate"])
            stack.callback(node.stop)
            started.append(node)
        yield started


def ingest_rate(nodes: list[Collector], points: int, repeat: int) -> float:
    """Points/s when every collector gets *points* from its own client thread at once."""

    def once() -> float:
        bodies = [packed_bodies(f"ingest-{uuid.uuid4().hex[:8]}", points) for _ in nodes]
        threads = [
            threading.Thread(target=post_all, args=(node.port, body))
            for node, body in zip(nodes, bodies, strict=True)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return points * len(nodes) / (time.perf_counter() - start)

    return median_of(repeat, once)


def timed_get(port: int, path: str) -> Callable[[], float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get() -> float:
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or not body:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return (time.perf_counter() - start) * 1000

    return get


def fill_runs(url: str, runs: int) -> None:
    """*runs* runs with an ``acc`` metric and a param, written straight into the store."""
    import numpy as np

    from collectors.ops import AppendPoints, EnsureRun, SetParam
    from collectors.store import open_store

    store = open_store(url)
    one = np.array([1], dtype=np.int64)
    rng = np.random.default_rng(7)
    ops: list[list[Any]] = []
    for i in range(runs):
        run_id = f"search-{i:05d}"
        value = np.array([rng.random()])
        ops.append(
            [
                EnsureRun(run_id, "bench-search", 1_700_000_000_000_000_000 + i),
                SetParam(run_id, "alpha", str(i % 10)),
                AppendPoints(run_id, "acc", "scalar", "f8", one, one, value),
            ]
        )
    for start in range(0, runs, 1000):
        store.apply(ops[start : start + 1000])
    store.close()


def disk_bytes(url: str) -> int:
    """Bytes the store takes on disk."""
    if url.startswith("sqlite"):
        import sqlite3

        path = Path(urllib.parse.urlparse(url).path)
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' "
            "AND c.relname IN ('metrics', 'metric_chunks')"
        ).fetchone()
    return int(row[0])


def measure(url: str, tmp: Path, args: Any) -> dict[str, float]:
    results: dict[str, float] = {}
    with collectors(url, tmp, 3) as nodes:
        results["ingest1"] = ingest_rate(nodes[:1], args.points, args.repeat)
        results["ingest3"] = ingest_rate(nodes, args.points, args.repeat)
        before = disk_bytes(url)
        run_id = f"read-{uuid.uuid4().hex[:8]}"
        post_all(nodes[0].port, packed_bodies(run_id, 1_000_000))
        results["bytes"] = (disk_bytes(url) - before) / 1_000_000
        path = f"/api/v1/runs/{run_id}/metric?name=loss&format=binary"
        results["read"] = median_of(args.repeat, timed_get(nodes[0].port, path))
        fill_runs(url, args.runs)
        query = urllib.parse.urlencode(
            {
                "experiment": "bench-search",
                "filter": "metrics.acc > 0.5",
                "order_by": "metrics.acc DESC",
                "max_results": 100,
            }
        )
        search = timed_get(nodes[1].port, f"/api/v1/runs?{query}")
        search()  # warm the connection and the database's caches
        results["search"] = median_of(args.repeat, search)
    return results


ROWS = (
    ("ingest1", "packed ingest, 1 collector (points/s)", "{:,.0f}"),
    ("ingest3", "packed ingest, 3 collectors (points/s)", "{:,.0f}"),
    ("read", "read 1M-point vector, binary (ms)", "{:.1f}"),
    ("search", "search {runs:,} runs, metric filter + sort (ms)", "{:.1f}"),
    ("bytes", "bytes on disk per stored point", "{:.2f}"),
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--points", type=int, default=500_000, help="per collector and round")
    parser.add_argument("--runs", type=int, default=SEARCH_RUNS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        sqlite = measure(f"sqlite:///{tmp / 'shared.db'}", tmp, args)
        with postgres_url() as url:
            postgres = measure(url, tmp, args)
    header = ("measure", f"SQLite (median of {args.repeat})", "PostgreSQL", "PG / SQLite")
    rows = [header]
    for key, label, fmt in ROWS:
        ratio = postgres[key] / sqlite[key] if sqlite[key] else float("nan")
        rows.append(
            (
                label.format(runs=args.runs),
                fmt.format(sqlite[key]),
                fmt.format(postgres[key]),
                f"{ratio:.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for n, row in enumerate(rows):
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
