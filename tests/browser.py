"""Headless Chromium for the studio's tests, screenshots and benchmarks (test helper).

Debian's ``chromium`` package (``make test`` installs it) driven by the ``playwright``
package: Playwright's own browser download is not used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The studio sets this once a page has rendered (a selector: its CSP forbids eval).
READY = "body[data-ready='1']"


def chromium_missing() -> str | None:
    """Why the browser cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
    return None


def launch(playwright: Any) -> Any:
    """Launch Debian's chromium headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
