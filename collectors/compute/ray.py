"""The ``ray`` target: submitted runs as Ray jobs, for more than one machine.

Each claimed run goes to Ray's job submission API (``ray[default]`` on the collector's
host; ``--ray-address`` names the cluster's dashboard, e.g. ``http://head:8265``):

* ``working_dir`` is the run's snapshot (Ray uploads it to the cluster), the run's
  variables travel in ``runtime_env.env_vars``, a managed environment's requirements in
  ``runtime_env.pip`` (Ray builds and caches it on the node);
* the entrypoint is ``python -m runlog.launch --run-id RUN -- python SCRIPT ARGS``, the same
  launcher as on the local target: it records the script's stdout/stderr, Finalizing and the
  final status, and uploads ``./outputs``. runlog must be installed on the cluster's nodes
  and the collector reachable from them;
* the job's id is the run id; Ray's job states map onto the lifecycle (PENDING: Preparing,
  RUNNING: Running, SUCCEEDED: Completed, FAILED: Failed with Ray's message, STOPPED:
  Canceled), and the job's own log (Ray's setup lines included) streams into the run under
  the logger ``ray.job``;
* cancel is Ray's ``stop_job``. A restarted collector picks its jobs up again by run id.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.compute.environments import EnvironmentSpec
from collectors.compute.service import Context, Target
from collectors.ops import AppendLogLines, LogLine, Op, UpdateSubmission
from collectors.store.base import SubmissionInfo
from runlog import conventions as c
from runlog import launch
from runlog.extras import missing_message

logger = logging.getLogger(__name__)
RAY_LOGGER = "ray.job"
_POLL_S = 0.5
_STATES = {
    "RUNNING": c.STATUS_RUNNING,
    "SUCCEEDED": c.STATUS_COMPLETED,
    "FAILED": c.STATUS_FAILED,
    "STOPPED": c.STATUS_CANCELED,
}


@dataclass(slots=True)
class _Job:
    """A run of this target: its Ray job once submitted, how much of its log was read."""

    job_id: str | None = None
    log_offset: int = 0
    canceled: threading.Event = field(default_factory=threading.Event)


class RayTarget(Target):
    """Runs as Ray jobs on the cluster at *address*, at most *max_running* at a time."""

    kind = "ray"

    def __init__(self, name: str, max_running: int, context: Context, address: str) -> None:
        super().__init__(name, max_running, context)
        self.address = address
        self._client: Any = None
        self._stopping = False
        self._monitor = threading.Thread(target=self._watch, name="runlog-ray-jobs", daemon=True)
        self._monitor.start()

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "address": self.address}

    def client(self) -> Any:
        """The job submission client (connects on first use)."""
        if self._client is None:
            try:
                from ray.job_submission import JobSubmissionClient
            except ImportError as exc:
                raise RuntimeError(missing_message("the ray target", exc)) from exc
            self._client = JobSubmissionClient(self.address)
        return self._client

    # --- starting ------------------------------------------------------------------------
    def start(self, sub: SubmissionInfo) -> None:
        self._track_in_thread(sub, _Job(), self._submit)

    def _submit(self, sub: SubmissionInfo, job: _Job) -> None:
        ctx = self.context
        work = ctx.run_dir(sub.run_id) / "work"
        try:
            shutil.rmtree(work, ignore_errors=True)
            ctx.snapshots.extract(sub.snapshot, work)
            spec = EnvironmentSpec.from_json(sub.environment)
            if job.canceled.is_set() or self.cancel_requested(sub.run_id):
                ctx.advance(sub.run_id, c.STATUS_CANCELED, "canceled while preparing", done=True)
                self._untrack(sub.run_id)
                return
            runtime_env: dict[str, Any] = {
                "working_dir": str(work),
                "env_vars": {**ctx.run_variables(sub), **_job_variables()},
            }
            if spec.managed:
                runtime_env["pip"] = list(spec.pip)
            job_id = self.client().submit_job(
                entrypoint=self.entrypoint(sub, spec),
                submission_id=sub.run_id,
                runtime_env=runtime_env,
                metadata={"runlog.run_id": sub.run_id, "runlog.experiment": sub.experiment},
            )
            job.job_id = job_id
            ctx.apply([UpdateSubmission(sub.run_id, job_id=job_id)])
            ctx.log(sub.run_id, f"submitted to Ray at {self.address} as job {job_id}")
            if job.canceled.is_set() or self.cancel_requested(sub.run_id):
                job.canceled.set()
                self.client().stop_job(job_id)
        except Exception as exc:
            logger.exception("ray target could not submit %s", sub.run_id)
            reason = f"Ray refused the job ({type(exc).__name__}: {exc})"
            ctx.advance(sub.run_id, c.STATUS_FAILED, reason, done=True)
            self._untrack(sub.run_id)
        finally:
            shutil.rmtree(work, ignore_errors=True)  # Ray keeps its own copy

    @staticmethod
    def entrypoint(sub: SubmissionInfo, spec: EnvironmentSpec) -> str:
        """The job's shell command: runlog's launcher attached to the run, then the script."""
        script = [spec.interpreter or "python", sub.script, *sub.arguments]
        name = sub.name or sub.script
        return shlex.join(
            launch.command("python", sub.run_id, sub.experiment, name, spec.autolog, script)
        )

    # --- watching --------------------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stopping:
            time.sleep(_POLL_S)
            with self._lock:
                jobs = [(run_id, job) for run_id, job in self._active.items() if job.job_id]
            for run_id, job in jobs:
                try:
                    self._poll(run_id, job)
                except Exception:
                    logger.exception("ray target: cannot follow job %s", job.job_id)

    def _poll(self, run_id: str, job: _Job) -> None:
        client, ctx = self.client(), self.context
        state = str(client.get_job_status(job.job_id)).rsplit(".", 1)[-1]
        self._read_log(run_id, job)
        status = _STATES.get(state)
        if status is None:
            return
        if status not in c.TERMINAL_STATUSES:
            ctx.advance(run_id, status)
            return
        error = None
        if status == c.STATUS_FAILED:
            error = f"Ray job {job.job_id} failed: {client.get_job_info(job.job_id).message}"
        ctx.advance(run_id, status, error, done=True)
        self._untrack(run_id)

    def _read_log(self, run_id: str, job: _Job) -> None:
        text = self.client().get_job_logs(job.job_id)
        if len(text) <= job.log_offset:
            return
        new, end = text[job.log_offset :], len(text)
        if not new.endswith("\n"):  # keep an unfinished line for the next look
            cut = new.rfind("\n") + 1
            new, end = new[:cut], job.log_offset + cut
        if not new:
            return
        now = time.time_ns()
        lines = tuple(LogLine(now, 9, "INFO", RAY_LOGGER, t) for t in new.splitlines())
        ops: list[Op] = [AppendLogLines(run_id, lines), UpdateSubmission(run_id, log_offset=end)]
        self.context.apply(ops)
        job.log_offset = end

    # --- cancel and resume -----------------------------------------------------------------
    def cancel(self, sub: SubmissionInfo) -> None:
        job = self._tracked(sub.run_id)
        if job is None:
            return
        job.canceled.set()
        if job.job_id is not None:
            self.context.log(sub.run_id, f"cancel: stopping Ray job {job.job_id}")
            self.client().stop_job(job.job_id)

    def resume(self, sub: SubmissionInfo) -> None:
        job_id = sub.job_id
        if job_id is None:  # died between claim and submit: did Ray get it?
            try:
                job_id = self.client().get_job_info(sub.run_id).submission_id
            except Exception:
                job_id = None
        if job_id is None:
            self.start(sub)
            return
        self._track(sub.run_id, _Job(job_id, sub.log_offset))
        if sub.cancel_ns:
            self.client().stop_job(job_id)

    def stop(self) -> None:
        self._stopping = True


def _job_variables() -> dict[str, str]:
    # The job's spool lies in its working directory on the node (no home-directory spool).
    return {c.ENV_SPOOL_DIR: ".runlog-spool", "PYTHONUNBUFFERED": "1"}


@contextmanager
def local_head(temp_dir: Path, num_cpus: int = 2, timeout_s: float = 180.0) -> Iterator[str]:
    """Start a one-machine Ray head (``ray start --head --block``) for tests and benchmarks;
    yield its job API address; stop it and everything it started on exit."""
    from ray.job_submission import JobSubmissionClient

    dashboard = _free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    command = [os.path.join(bin_dir, "ray"), "start", "--head", "--block"]
    command += [f"--port={_free_port()}", f"--dashboard-port={dashboard}"]
    command += ["--dashboard-host=127.0.0.1", f"--num-cpus={num_cpus}"]
    command += ["--object-store-memory=100000000", f"--temp-dir={temp_dir}"]
    command += ["--disable-usage-stats"]
    log_path = temp_dir / "head.log"
    temp_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        head = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                JobSubmissionClient(address).list_jobs()
                break
            except Exception:
                if head.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Ray head did not start:\n{log_path.read_text()}") from None
                time.sleep(1)
        yield address
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
