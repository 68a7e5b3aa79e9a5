from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from flowyard.api.envelope import V20, V21
from flowyard.api.pagination import canonical_field, parse_page
from flowyard.api.timefmt import fmt_datetime, fmt_timestamp, gmt_label
from flowyard.api.wire import Reader, embedded_json, parse_json_body, to_bool, to_date, to_float, to_int
from flowyard.errors import InvalidParameterError


@pytest.mark.parametrize(
    ("value", "expected"), [(3, 3), ("3", 3), (" 42 ", 42), (3.0, 3), ("7.0", 7), ("-1", -1)]
)
def test_ints_as_numbers_or_strings(value: object, expected: int) -> None:
    assert to_int(value, "flowId") == expected


@pytest.mark.parametrize("value", [True, "x", "1.5", 1.5, None, [], {}, "1" * 25, 2**64])
def test_bad_ints_name_the_field(value: object) -> None:
    with pytest.raises(InvalidParameterError, match=r"^Invalid parameter: flowId "):
        to_int(value, "flowId")


def test_floats_bools_dates() -> None:
    assert to_float("0.5", "cpu") == 0.5
    for bad in (float("nan"), "inf", "x", True):
        with pytest.raises(InvalidParameterError):
            to_float(bad, "cpu")
    assert (to_bool("true", "b"), to_bool(0, "b"), to_bool("1", "b")) == (True, False, True)
    with pytest.raises(InvalidParameterError):
        to_bool("yes", "b")
    assert to_date("2019-07-24", "d") == date(2019, 7, 24)
    assert to_date("", "d") is None
    with pytest.raises(InvalidParameterError, match="yyyy-MM-dd"):
        to_date("24/07/2019", "d")


def test_json_in_strings_and_bodies() -> None:
    assert embedded_json('[{"key":"a","value":"b"}]', "p") == [{"key": "a", "value": "b"}]
    assert embedded_json([1], "p") == [1]
    assert embedded_json("", "p") is None
    with pytest.raises(InvalidParameterError, match="p must be JSON"):
        embedded_json("[{", "p")
    assert parse_json_body(b"") == {}
    for raw in (b"[]", b"\xff\xfe", b"{", b"3"):
        with pytest.raises(InvalidParameterError, match=r"^Invalid request body\.$"):
            parse_json_body(raw)


def test_reader_aliases_and_paths() -> None:
    r = Reader({"alert_mode": "3", "flowJson": '{"tasks":[{"name":"a"},{"name":"b","retry_limit":"x"}]}'}, "")
    assert r.int("alertMode", 0) == 3
    flow = r.object("flowJson")
    assert flow is not None
    tasks = flow.items("tasks")
    assert [t.str("name") for t in tasks] == ["a", "b"]
    with pytest.raises(InvalidParameterError, match=r"flowJson\.tasks\[1\]\.retryLimit must be an integer"):
        tasks[1].int("retryLimit", 0)
    with pytest.raises(InvalidParameterError, match=r"flowJson\.missing is required"):
        flow.str("missing")
    with pytest.raises(InvalidParameterError, match="must be a JSON object"):
        Reader([1], "body")


def test_pagination_bases_and_sorters() -> None:
    msg = "bad field"
    allowed = ("create_time", "update_time")
    assert parse_page(Reader({}), V21, allowed, msg).index == 0
    assert parse_page(Reader({"pagination": {"pageNo": 1, "pageSize": 5}}), V21, allowed, msg).index == 0
    assert parse_page(Reader({"pagination": {"pageNo": 0, "pageSize": 5}}), V21, allowed, msg).index == 0
    assert parse_page(Reader({"pagination": {"pageNo": 3, "pageSize": 5}}), V21, allowed, msg).index == 2
    assert parse_page(Reader({"pagination": {"pageNo": 0, "pageSize": 5}}), V20, allowed, msg).index == 0
    assert parse_page(Reader({"pagination": {"pageNo": 3, "pageSize": 5}}), V20, allowed, msg).index == 3
    page = parse_page(
        Reader(
            {"pagination": {"sorters": [{"field": "updateTime", "order": "desc"}, {"field": "create_time"}]}}
        ),
        V21,
        allowed,
        msg,
    )
    assert page.sorters == [("update_time", True), ("create_time", False)]
    for bad in ({"pageNo": -1}, {"pageSize": 0}, {"pageSize": 100000}, {"sorters": [{"field": "x"}]}):
        with pytest.raises(InvalidParameterError):
            parse_page(Reader({"pagination": bad}), V21, allowed, msg)
    assert canonical_field("triggerTime") == "trigger_time"


def test_time_strings() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    at = datetime(2019, 7, 22, 0, 56, 35, tzinfo=UTC)
    assert fmt_datetime(at, shanghai) == "2019-07-22 08:56:35"
    assert fmt_timestamp(at, shanghai) == "2019-07-22 08:56:35.0"
    assert fmt_datetime(None, shanghai) == ""
    assert gmt_label(shanghai, at) == "GMT+8"
    assert gmt_label(ZoneInfo("America/New_York"), at) == "GMT-4"
    assert gmt_label(ZoneInfo("Asia/Kolkata"), at) == "GMT+5:30"
    assert gmt_label(UTC, at) == "GMT+0"
