"""The console in real Chromium against a real ``flowyard server`` process.

One server and one browser per module; every test opens a fresh browser context (no shared
cookies). Chromium is Debian's (``/usr/bin/chromium``, or ``FLOWYARD_CHROMIUM``); Playwright never
downloads a browser. Without Chromium or the Python ``playwright`` package the tests are skipped
with the reason. Screenshots go to ``.artifacts/console/`` (or ``FLOWYARD_ARTIFACTS``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_server_process import free_port, wait_healthy

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO.parent / "shared" / "examples"
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


def chromium_path() -> str | None:
    configured = os.environ.get("FLOWYARD_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or (
        None if not Path("/usr/bin/chromium").exists() else "/usr/bin/chromium"
    )


def artifacts_dir() -> Path:
    path = Path(os.environ.get("FLOWYARD_ARTIFACTS", REPO / ".artifacts" / "console"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Server:
    url: str
    data_dir: Path
    creds: dict[str, Any]
    proc: subprocess.Popen[str]

    def admin(self, *args: str, stdin: str | None = None) -> Any:
        """Run ``flowyard admin ... --json`` on this server's database."""
        result = subprocess.run(
            [sys.executable, "-m", "flowyard", "admin", *args, "--data-dir", str(self.data_dir), "--json"],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(result.stdout)

    def user(self, name: str, password: str, *org_ids: str) -> dict[str, Any]:
        orgs = [arg for org in (org_ids or (self.creds["orgId"],)) for arg in ("--org", org)]
        user: dict[str, Any] = self.admin("user", "create", name, *orgs)
        self.admin("user", "passwd", name, "--password-stdin", stdin=password + "\n")
        return user


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if chromium_path() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); console browser tests skipped")
    pytest.importorskip("playwright.sync_api", reason="the Python playwright package is not installed")
    data_dir = tmp_path_factory.mktemp("console")
    port = free_port()
    env = dict(
        os.environ,
        FLOWYARD_HOME=str(data_dir),
        FLOWYARD_LOGIN_MAX_FAILURES="3",
        FLOWYARD_LOGIN_LOCKOUT_SECONDS="120",
    )
    command = [sys.executable, "-m", "flowyard", "server", "--port", str(port), "--data-dir", str(data_dir)]
    # Output to a file, not a pipe nobody reads: access logs must never block the server.
    output = (data_dir / "server.out").open("w")
    proc = subprocess.Popen(
        [*command, "--timezone", "UTC"], stdout=output, stderr=subprocess.STDOUT, text=True, env=env
    )
    output.close()
    try:
        wait_healthy(proc, port)
        creds = json.loads((data_dir / "credentials.json").read_text())
        yield Server(f"http://127.0.0.1:{port}", data_dir, creds, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1400, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    # Failed requests (a 401 while signed out, a refused sign-in) are answers the page handles.
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    try:
        yield page
    finally:
        context.close()


def sign_in(page: Any, username: str, password: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("user").wait_for()


def screenshot(page: Any, name: str) -> Path:
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page (WCAG 2 A/AA rules)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (cd web && npm ci)")
    # Evaluated over the DevTools protocol: the page's CSP (no inline script) stays in force.
    page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})"
    )
    found = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:3]]} for v in found]


def poll(check: Any, timeout: float = 10.0) -> Any:
    """``check()`` until it returns something truthy; short sleeps, bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
