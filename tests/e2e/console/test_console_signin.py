"""Sign-in in the browser: the page, a wrong password, throttling, CSRF, serving headers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.console.conftest import Server, screenshot, serious_violations, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("console-signin")]


def test_sign_in_page_wrong_password_then_success(page: Any, server: Server) -> None:
    printed = (server.data_dir / "server.out").read_text()
    assert f"user admin, one-time password {server.creds['password']}" in printed
    page.goto("/ui/flows")  # a deep link: signed out, it shows the sign-in page
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="Wrong username or password").wait_for()
    screenshot(page, "signin")
    assert serious_violations(page) == []
    sign_in(page, "admin", server.creds["password"])
    assert page.get_by_test_id("user").inner_text() == "admin"
    page.reload()  # the session survives a reload
    page.get_by_test_id("user").wait_for()
    assert page.console_errors == []


def test_throttling_after_failed_attempts(page: Any, server: Server) -> None:
    server.user("throttled", "right-password-1")
    page.goto("/")
    for _ in range(3):
        page.get_by_label("Username").fill("throttled")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").wait_for()
    page.get_by_label("Password").fill("right-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="Too many failed attempts").wait_for()


def test_csrf_refused_and_locked_user(page: Any, server: Server) -> None:
    sign_in(page, "admin", server.creds["password"])
    query = {"action": "create", "userId": server.creds["userId"], "orgId": server.creds["orgId"]}
    url = "/batch-processing-service/v2.1/directories?" + "&".join(f"{k}={v}" for k, v in query.items())
    # The page's own cookie, without the CSRF header: refused.
    answer = page.request.post(url, data={"parentId": "x", "dirName": "csrf"})
    assert answer.status == 403
    assert answer.json()["code"] == 403
    server.user("locked", "locked-password-1")
    server.admin("user", "lock", "locked")
    refused = httpx.post(
        f"{server.url}/ui/api/session", json={"username": "locked", "password": "locked-password-1"}
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == 62105


def test_console_headers(server: Server) -> None:
    index = httpx.get(f"{server.url}/ui/flows/123", headers={"accept-encoding": "gzip"})
    assert index.status_code == 200
    assert index.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in index.headers["content-security-policy"]
    asset = next(part.split('"')[1] for part in index.text.split("src=")[1:] if "/assets/" in part)
    loaded = httpx.get(f"{server.url}{asset}", headers={"accept-encoding": "gzip"})
    assert loaded.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert loaded.headers["content-encoding"] == "gzip"
    # "/" still answers the DataWorks RPC face for a call that names an action.
    rpc = httpx.post(f"{server.url}/?Action=GetJobStatus&Version=2024-05-18")
    assert rpc.headers["content-type"].startswith("application/json")
