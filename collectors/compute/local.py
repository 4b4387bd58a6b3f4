"""The ``local`` target: submitted runs as processes on the collector's host.

Each run gets a fresh working copy of its snapshot under ``<data dir>/compute/runs/<id>/``
and its environment (`collectors.compute.environments`); then ``python -m runlog.launch
--run-id`` (the launcher of ``runlog run``, attached to the submitted run) starts the script
in its own process group. The launcher records stdout/stderr in the run's log, sets Running,
Finalizing and the final status from the exit code, and uploads ``./outputs``; it spools
to the run's own folder while the collector is away, so a run outlives a collector restart.

The target watches the launcher: when it ends without having reported a final status (it
was killed, or the collector died meanwhile), the run's spool is replayed and the run is
resolved from what is known. Cancel sends SIGTERM to the process group and SIGKILL after
the grace period.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from collectors.compute import _process
from collectors.compute.environments import ENV_CLIENT_PATH, EnvironmentBuildError, EnvironmentSpec
from collectors.compute.service import ENVIRONMENT_LOGGER, Context, Target
from collectors.ops import UpdateSubmission
from collectors.store.base import SubmissionInfo
from runlog import conventions as c
from runlog import launch

logger = logging.getLogger(__name__)
_POLL_S = 0.25


@dataclass(slots=True)
class _Active:
    """A run of this target: its process once started, and whether it was canceled."""

    process: subprocess.Popen[bytes] | None = None
    pid: int | None = None
    canceled: threading.Event = field(default_factory=threading.Event)
    killed: bool = False


class LocalTarget(Target):
    """Runs on this host, at most *max_running* at a time."""

    kind = "local"

    def __init__(self, name: str, max_running: int, context: Context) -> None:
        super().__init__(name, max_running, context)
        self._stopping = False

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "address": os.uname().nodename}

    # --- starting ------------------------------------------------------------------------
    def start(self, sub: SubmissionInfo) -> None:
        self._track_in_thread(sub, _Active(), self._run)

    def _run(self, sub: SubmissionInfo, active: _Active) -> None:
        ctx = self.context
        try:
            process = self._launch(sub, active)
            if process is not None:
                returncode = process.wait()
                self._resolve(sub, active, f"exit code {returncode}")
        except EnvironmentBuildError as exc:
            ctx.advance(sub.run_id, c.STATUS_FAILED, f"environment build failed: {exc}", done=True)
        except Exception as exc:
            logger.exception("local target could not run %s", sub.run_id)
            reason = f"runlog could not start the run ({type(exc).__name__}: {exc})"
            ctx.advance(sub.run_id, c.STATUS_FAILED, reason, done=True)
        finally:
            self._untrack(sub.run_id)

    def _launch(self, sub: SubmissionInfo, active: _Active) -> subprocess.Popen[bytes] | None:
        ctx = self.context
        folder = ctx.run_dir(sub.run_id)
        work = folder / "work"
        shutil.rmtree(work, ignore_errors=True)
        ctx.snapshots.extract(sub.snapshot, work)
        spec = EnvironmentSpec.from_json(sub.environment)
        env = ctx.environments.resolve(
            spec, work, lambda line: ctx.log(sub.run_id, line, ENVIRONMENT_LOGGER)
        )
        if env.location and env.reused:
            ctx.log(
                sub.run_id, f"environment {spec.name!r} reused: {env.location}", ENVIRONMENT_LOGGER
            )
        if active.canceled.is_set() or self.cancel_requested(sub.run_id):
            ctx.advance(sub.run_id, c.STATUS_CANCELED, "canceled while preparing", done=True)
            return None
        with open(folder / "output.log", "ab") as output:
            process = subprocess.Popen(
                self._command(sub, env.interpreter, spec),
                cwd=work,
                env=self._environment(sub, folder, env.variables),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        active.process, active.pid = process, process.pid
        started = _process.start_time(process.pid)
        ctx.apply([UpdateSubmission(sub.run_id, pid=process.pid, pid_start=started)])
        if active.canceled.is_set() or self.cancel_requested(sub.run_id):  # while starting
            active.canceled.set()
            threading.Thread(target=self._stop, args=(sub.run_id, active), daemon=True).start()
        return process

    @staticmethod
    def _command(sub: SubmissionInfo, interpreter: str, spec: EnvironmentSpec) -> list[str]:
        script = [interpreter, sub.script, *sub.arguments]
        name = sub.name or sub.script
        return launch.command(
            sys.executable, sub.run_id, sub.experiment, name, spec.autolog, script
        )

    def _environment(
        self, sub: SubmissionInfo, folder: Path, variables: dict[str, str]
    ) -> dict[str, str]:
        ctx = self.context
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOG_", "OTEL_"))}
        if variables:  # a managed environment: nothing of the collector's own path leaks in
            env.pop("PYTHONPATH", None)
        env.update(variables)
        env.update(ctx.run_variables(sub))
        env[c.ENV_SPOOL_DIR] = str(folder / "spool")
        env[ENV_CLIENT_PATH] = str(ctx.environments.client_path())
        return env

    # --- ending --------------------------------------------------------------------------
    def _resolve(self, sub: SubmissionInfo, active: _Active, how: str) -> None:
        """The launcher has ended: settle the run's status and leave the queue."""
        ctx = self.context
        _replay_spool(ctx, ctx.run_dir(sub.run_id) / "spool")
        current = ctx.store.get_submission(sub.run_id)
        status = current.status if current else None
        if status in c.TERMINAL_STATUSES:
            ctx.advance(sub.run_id, str(status), done=True)
        elif active.canceled.is_set() or (current and current.cancel_ns):
            grace = f" after {ctx.cancel_grace_s:g} s" if active.killed else ""
            ctx.advance(
                sub.run_id, c.STATUS_CANCELED, f"canceled; process killed{grace}", done=True
            )
        else:
            reason = f"the run's process ended ({how}) without reporting a final status"
            ctx.advance(sub.run_id, c.STATUS_FAILED, reason, done=True)
        shutil.rmtree(ctx.run_dir(sub.run_id) / "work", ignore_errors=True)

    # --- cancel and resume -----------------------------------------------------------------
    def cancel(self, sub: SubmissionInfo) -> None:
        active = self._tracked(sub.run_id)
        if active is None:
            return
        active.canceled.set()
        if active.pid is not None:
            self._stop(sub.run_id, active)

    def _stop(self, run_id: str, active: _Active) -> None:
        pid = active.pid
        if pid is None:
            return
        self.context.log(run_id, f"cancel: SIGTERM to the run's processes (group {pid})")
        process = active.process

        def ended() -> bool:
            if process is not None:
                return process.poll() is not None
            return not _process.alive(pid, None)

        active.killed = _process.stop_group(pid, self.context.cancel_grace_s, ended)
        if active.killed:
            self.context.log(run_id, f"cancel: SIGKILL after {self.context.cancel_grace_s:g} s")

    def resume(self, sub: SubmissionInfo) -> None:
        if sub.pid is None:  # claimed, but the collector died before the process started
            self.context.log(sub.run_id, "collector restarted while preparing: starting again")
            self.start(sub)
            return
        self._track_in_thread(sub, _Active(pid=sub.pid), self._adopt)

    def _adopt(self, sub: SubmissionInfo, active: _Active) -> None:
        """Watch a run started by a previous collector until its process ends."""
        try:
            assert active.pid is not None  # resume() sets it
            if sub.cancel_ns:
                active.canceled.set()
                self._stop(sub.run_id, active)
            while _process.alive(active.pid, sub.pid_start) and not self._stopping:
                time.sleep(_POLL_S)
            if not self._stopping:
                self._resolve(sub, active, "exit code unknown: the collector had restarted")
        except Exception:
            logger.exception("local target could not resolve %s", sub.run_id)
        finally:
            self._untrack(sub.run_id)

    def stop(self) -> None:
        self._stopping = True


def _replay_spool(ctx: Context, spool: Path) -> None:
    """Ingest what the run's launcher spooled (it could not reach the collector)."""
    if not spool.is_dir() or not any(spool.iterdir()):
        return
    from collectors.receive.ingest import Ingestor
    from collectors.receive.replay import replay_spool

    replay_spool(spool, Ingestor(ctx.writer), ctx.uploads, endpoint=ctx.endpoint)
