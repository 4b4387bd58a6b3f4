"""``python -m runlog.launch``: start a command as an existing run, as compute targets start
submitted runs.

It is ``runlog run --run-id RUN -- CMD`` without the command line tool's imports (click,
rich: ~0.3 s), so the script starts sooner. The collector's targets build the command
line with `command`::

    python -m runlog.launch --run-id RUN -e EXP [--name N] [--no-autolog] -- CMD
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from runlog import conventions as c
from runlog._launch import Launch, launch


def command(
    launcher_python: str,
    run_id: str,
    experiment: str,
    name: str,
    autolog: bool,
    argv: Sequence[str],
) -> list[str]:
    """The command line that runs *argv* (the script's own, e.g. ``python train.py``) as
    run *run_id* of *experiment*, the launcher itself run by *launcher_python*."""
    launcher = [launcher_python, "-m", "runlog.launch", "--run-id", run_id]
    launcher += ["-e", experiment, "--name", name]
    if not autolog:
        launcher.append("--no-autolog")
    return [*launcher, "--", *argv]


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the `command` line, `launch` the command into the run, exit with its code."""
    parser = argparse.ArgumentParser(prog="python -m runlog.launch")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("-e", "--experiment", required=True)
    parser.add_argument("--name")
    parser.add_argument("--outputs", default="outputs")
    parser.add_argument("--no-autolog", action="store_true")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    request = Launch(
        args.command,
        experiment=args.experiment,
        name=args.name,
        autolog="0" if args.no_autolog else ",".join(c.AUTOLOG_NAMES),
        outputs=args.outputs,
        run_id=args.run_id,
    )
    raise SystemExit(launch(request))


if __name__ == "__main__":
    main()
