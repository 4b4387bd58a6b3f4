"""Training-thread cost of one stdlib logging call: `python bench/logging_cost.py`.

Measures ``logger.info("epoch done", extra={"loss": 0.31, "acc": 0.9, "step": 3})``:

* ``no handler``: stdlib logging's own cost (the record is made, no handler runs);
* ``RunlogHandler``: one log line and two metric points into a run, exporter running
  against a real collector process;
* ``OTel LoggingHandler``: the OpenTelemetry SDK's handler with a ``LoggerProvider``,
  ``BatchLogRecordProcessor`` and OTLP/HTTP exporter to the same collector.

Each is reported as the median of ``--repeat`` rounds of two numbers: the median latency of
individually timed calls (what one call costs the training thread) and a tight loop's time
per call (which also pays for the exporter's work under the same GIL).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import Collector, print_table, running_collector

import runlog

EXTRA = {"loss": 0.31, "acc": 0.9, "step": 3}


def measure(logger: logging.Logger, calls: int, repeat: int) -> tuple[float, float]:
    """(median per-call latency, tight-loop time per call) in ns, medians of *repeat*."""
    clock = time.perf_counter_ns
    info = logger.info

    def per_call() -> float:
        samples = []
        for _ in range(calls):
            start = clock()
            info("epoch done", extra=EXTRA)
            samples.append(clock() - start)
        return float(statistics.median(samples))

    def loop() -> float:
        start = clock()
        for _ in range(calls):
            info("epoch done", extra=EXTRA)
        return (clock() - start) / calls

    rounds = [(per_call(), loop()) for _ in range(repeat)]
    return (
        statistics.median(r[0] for r in rounds),
        statistics.median(r[1] for r in rounds),
    )


def fresh_logger(name: str, handler: logging.Handler | None) -> logging.Logger:
    logger = logging.getLogger(f"bench.{name}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers[:] = [handler] if handler else []
    return logger


def with_otel(
    collector: Collector, run: runlog.Run, body: Callable[[logging.Handler], float]
) -> Any:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    from runlog.otel import resource_attributes

    provider = LoggerProvider(resource=Resource.create(resource_attributes(run)))
    exporter = OTLPLogExporter(endpoint=f"{collector.endpoint}/v1/logs")
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    try:
        return body(LoggingHandler(logger_provider=provider))
    finally:
        provider.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args(argv)
    with running_collector() as (collector, _):
        results = run_all(collector, args.calls, args.repeat)
    base = results["no handler"]
    rows = [
        (
            f"logger.info(extra=3 numbers): {name}",
            f"{call:,.0f} ns/call (loop {loop:,.0f} ns)",
            f"no handler {base[0]:,.0f} ns (loop {base[1]:,.0f} ns)",
            f"+{call - base[0]:,.0f} ns, {call / base[0]:.1f}x",
        )
        for name, (call, loop) in results.items()
    ]
    print_table(rows, args.repeat)


def run_all(collector: Collector, calls: int, repeat: int) -> dict[str, tuple[float, float]]:
    ws = runlog.Workspace(collector.endpoint)
    results: dict[str, tuple[float, float]] = {}
    results["no handler"] = measure(fresh_logger("none", None), calls, repeat)
    with runlog.Experiment(ws, "bench-logging").start_logging() as run:
        handler = runlog.RunlogHandler(run)
        results["RunlogHandler"] = measure(fresh_logger("runlog", handler), calls, repeat)
        run.flush(60)
    with runlog.Experiment(ws, "bench-logging-otel").start_logging() as run:
        results["OTel LoggingHandler"] = with_otel(
            collector, run, lambda h: measure(fresh_logger("otel", h), calls, repeat)
        )
    return results


if __name__ == "__main__":
    main()
