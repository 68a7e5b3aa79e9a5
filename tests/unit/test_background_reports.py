"""Background loops report a passing database hiccup as one line, and a persisting one loudly."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from flowyard.services.background import Quiet
from flowyard.store.db import is_transient

LOCKED = OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))


def test_a_locked_database_is_transient_and_a_bug_is_not() -> None:
    assert is_transient(LOCKED)
    assert not is_transient(ValueError("database is locked"))  # not a database error at all
    assert not is_transient(OperationalError("x", {}, sqlite3.OperationalError("no such table: flows")))


def test_quiet_reports_a_hiccup_briefly_and_a_persisting_failure_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    report = Quiet(logging.getLogger("flowyard.test"), "housekeeping", patience=3)
    with caplog.at_level(logging.INFO, logger="flowyard.test"):
        report.failed(LOCKED)
        report.succeeded()
        report.failed(LOCKED)
        report.failed(LOCKED)
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.INFO, logging.INFO]
    assert all(r.exc_info is None and "will retry" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="flowyard.test"):
        report.failed(LOCKED)  # the third in a row: it persists
        report.failed(RuntimeError("a bug"))
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert all(r.exc_info is not None for r in caplog.records)
