"""``python -m collectors``: run the collector with the same command as ``runlog collector``.

`main` lives here, not in `collectors.server`: `collectors.cli_args` imports the server to
start it, so the server importing the command back would make the two import each other.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from collectors.cli_args import make_command
from collectors.server import serve
from collectors.store import StoreUnavailableError
from runlog.exceptions import ConfigError

#: Exit status when the store's database cannot be reached at start.
EXIT_STORE_UNAVAILABLE = 3


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``python -m collectors``); returns the exit status.

    Runs the same command as ``runlog collector`` (`collectors.cli_args.command`).
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    command = make_command(serve)
    try:
        command.main(
            args=list(argv) if argv is not None else None,
            prog_name="python -m collectors",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 1
    except ConfigError as exc:
        print(f"runlog collector: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailableError as exc:
        print(f"runlog collector: {exc}", file=sys.stderr)
        return EXIT_STORE_UNAVAILABLE
    except OSError as exc:
        print(f"runlog collector: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
