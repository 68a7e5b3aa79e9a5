"""Who sees what in the console: visitors read only, other organisations' flows do not exist,
users of several organisations switch between them; and the language switch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from flowyard.client import FlowyardClient
from tests.e2e.console.conftest import EXAMPLES, Server, screenshot, serious_violations, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("console-access")]
SEED = EXAMPLES / "enos" / "seed_001_export_flow_response.json"


@pytest.fixture(scope="module")
def flow_id(server: Server) -> Iterator[int]:
    server.user("viewer", "viewer-password-1")
    definition = {**json.loads(SEED.read_text())["data"], "visitors": ";viewer;"}
    with FlowyardClient.from_credentials(server.data_dir / "credentials.json") as client:
        root = client.list_directories()[0]["key"]
        client.create_directory(root, "shared_dir")
        yield client.import_flow(definition, flow_name="shared_flow", dir_id=root)


def test_visitor_sees_the_designer_read_only(page: Any, server: Server, flow_id: int) -> None:
    sign_in(page, "viewer", "viewer-password-1")
    page.goto(f"/ui/flows/{flow_id}")
    page.get_by_text("Read-only").wait_for()
    assert page.get_by_role("button", name="Save").count() == 0
    assert page.get_by_role("button", name="Add task").count() == 0
    assert page.get_by_label("Cron").is_disabled()
    page.goto("/ui/flows")
    row = page.locator("tr", has_text="shared_flow")
    row.wait_for()
    assert row.get_by_role("button", name="Delete").count() == 0
    assert row.get_by_role("button", name="Enable").count() == 0
    screenshot(page, "flows-visitor")


def test_locked_flow_is_marked_and_read_only(page: Any, server: Server) -> None:
    definition = json.loads(SEED.read_text())["data"]
    with FlowyardClient.from_credentials(server.data_dir / "credentials.json") as client:
        locked_id = client.import_flow(
            definition, flow_name="locked_flow", dir_id=client.list_directories()[0]["key"]
        )
    server.admin("flow", "lock", str(locked_id))
    sign_in(page, "admin", server.creds["password"])
    row = page.locator("tr", has_text="locked_flow")
    row.locator(".badge.locked").wait_for()
    assert row.get_by_role("button", name="Delete").count() == 0
    page.goto(f"/ui/flows/{locked_id}")
    page.get_by_text("Read-only").wait_for()
    assert page.get_by_role("button", name="Save").count() == 0


def test_other_organisations_flow_is_not_found(page: Any, server: Server, flow_id: int) -> None:
    other = server.admin("org", "create", "Other Org")
    server.user("outsider", "outsider-password-1", other["id"])
    sign_in(page, "outsider", "outsider-password-1")
    page.goto(f"/ui/flows/{flow_id}")
    page.get_by_role("alert").filter(has_text="Flow not found").wait_for()


def test_org_switcher_for_a_user_in_two_organisations(page: Any, server: Server, flow_id: int) -> None:
    second = server.admin("org", "create", "Second Org")
    server.user("multi", "multi-password-1", server.creds["orgId"], second["id"])
    sign_in(page, "multi", "multi-password-1")
    switcher = page.get_by_test_id("org-switcher")
    switcher.select_option(label="Default Organization")
    page.get_by_role("button", name="shared_dir").wait_for()
    switcher.select_option(label="Second Org")
    page.get_by_role("heading", name="Flows in Workflow").wait_for()
    assert page.get_by_role("button", name="shared_dir").count() == 0
    switcher.select_option(label="Default Organization")
    page.get_by_role("button", name="shared_dir").wait_for()


def test_language_switch_is_remembered(page: Any, server: Server) -> None:
    sign_in(page, "admin", server.creds["password"])
    page.get_by_test_id("language").select_option("zh-CN")
    page.get_by_role("button", name="退出登录").wait_for()
    page.reload()
    page.get_by_role("button", name="退出登录").wait_for()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    screenshot(page, "flows-zh")
    assert serious_violations(page) == []
