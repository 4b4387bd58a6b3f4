"""``python -m collectors``: run the collector (see `collectors.server.main`)."""

from __future__ import annotations

import sys

from collectors.server import main

if __name__ == "__main__":
    sys.exit(main())
