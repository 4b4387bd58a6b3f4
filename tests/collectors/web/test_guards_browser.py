"""A real browser (Chromium) against a real collector: hostile pages get nothing done.

A page served from another origin tries what issue 9 found working: a ``text/plain`` POST
with ``fetch`` (no-cors), a classic ``<form enctype="text/plain">`` POST, and a JSON POST;
none may change anything. A page whose host name an attacker re-points at 127.0.0.1 (DNS
rebinding, simulated with Chromium's host resolver rules) is refused. A page served by the
collector itself keeps working with ``fetch``, as the studio will.
"""

from __future__ import annotations

import http.server
import shutil
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from collector_process import Collector, free_port

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium"),
]

HOSTILE_PAGE = """<!doctype html>
<html><body>
<iframe name="sink" style="display:none"></iframe>
<form id="form" method="POST" enctype="text/plain" target="sink" action="{target}{create}">
  <input name='{{"name": "{form_name}", "x": "' value='"}}'>
</form>
<script>
window.results = {{}};
async function attack() {{
  try {{
    await fetch("{target}{create}", {{method: "POST", mode: "no-cors",
      headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{name: "{fetch_name}"}})}});
    results.noCors = "sent";
  }} catch (e) {{ results.noCors = String(e); }}
  try {{
    const r = await fetch("{target}{create}", {{method: "POST",
      headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{name: "{json_name}"}})}});
    results.json = r.status;
  }} catch (e) {{ results.json = "blocked"; }}
  document.getElementById("form").submit();
  results.form = "submitted";
}}
</script>
</body></html>
"""
CREATE = "/api/2.0/mlflow/experiments/create"


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--host-resolver-rules=MAP rebind.test 127.0.0.1"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def hostile_site(collector: Collector) -> Iterator[tuple[str, dict[str, str]]]:
    """A page on another origin (another loopback port) aimed at the collector."""
    names = {key: f"csrf-{key}-{uuid.uuid4().hex[:8]}" for key in ("form", "fetch", "json")}
    page = HOSTILE_PAGE.format(
        target=collector.endpoint,
        create=CREATE,
        form_name=names["form"],
        fetch_name=names["fetch"],
        json_name=names["json"],
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", names
    finally:
        server.shutdown()
        server.server_close()


def experiment_names(collector: Collector) -> set[str]:
    with collector.client() as client:
        return {e["name"] for e in client.get("/api/v1/experiments").json()["experiments"]}


def test_a_hostile_page_cannot_create_experiments(
    browser: Any, collector: Collector, hostile_site: tuple[str, dict[str, str]]
) -> None:
    url, names = hostile_site
    page = browser.new_page()
    page.goto(url)

    page.evaluate("attack()")
    page.wait_for_function("window.results.form === 'submitted'")
    page.wait_for_timeout(1500)  # let the form's POST land
    results = page.evaluate("window.results")

    assert "blocked" == results["json"]  # the preflight found no CORS permission
    assert set() == set(names.values()) & experiment_names(collector)


def test_a_rebound_host_name_gets_nothing(browser: Any, collector: Collector) -> None:
    port = collector.endpoint.rsplit(":", 1)[1]
    page = browser.new_page()

    response = page.goto(f"http://rebind.test:{port}/api/v1/experiments")

    assert 403 == response.status
    assert "DNS rebinding" in page.content()


def test_a_page_of_the_collector_itself_can_write_with_fetch(
    browser: Any, collector: Collector
) -> None:
    name = f"studio-{uuid.uuid4().hex[:8]}"
    page = browser.new_page()
    page.goto(collector.endpoint + "/docs")

    status = page.evaluate(
        """async (name) => (await fetch("/api/2.0/mlflow/experiments/create", {
             method: "POST", headers: {"Content-Type": "application/json"},
             body: JSON.stringify({name})})).status""",
        name,
    )

    assert 200 == status
    assert name in experiment_names(collector)
