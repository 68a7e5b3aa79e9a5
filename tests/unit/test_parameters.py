"""Parameter substitution: system variables pinned by hand-written tables, escapes, resolution, environment."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from flowyard.domain import parameters
from flowyard.domain.parameters import (
    ParameterCycleError,
    RunContext,
    UnknownVariableError,
    environment,
    resolve_parameters,
    substitute,
    system_variables,
)
from flowyard.domain.sysvars import SYSTEM_VARIABLE_NAMES
from flowyard.errors import InvalidParameterError

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def at(iso: str, zone: tzinfo = UTC) -> RunContext:
    """A context whose trigger time is ``iso`` (with its offset), dates computed in ``zone``."""
    return RunContext(trigger_at=datetime.fromisoformat(iso), zone=zone)


# The spec's example: trigger 2017-05-27 13:50:00 on a GMT+8 server.
SPEC = RunContext(
    trigger_at=datetime(2017, 5, 27, 13, 50, tzinfo=SHANGHAI),
    zone=SHANGHAI,
    task_id=104890,
    instance_id="2809-20170527135000",
    task_instance_id="104890-20170527135000",
    app_customer="CLP",
    app_id="a22b94f9-3b9d-40f6-9bd8-4d66b304d930",
)


def test_spec_example_table() -> None:
    assert system_variables(SPEC) == {
        "cal_dt": "2017-05-26",
        "cal_dt8": "20170526",
        "ncal_dt": "2017-05-27",
        "ncal_dt8": "20170527",
        "last_week8": "20170520",
        "last_week10": "2017-05-20",
        "first_day_this_month8": "20170501",
        "first_day_this_month10": "2017-05-01",
        "end_day_this_month8": "20170531",
        "end_day_this_month10": "2017-05-31",
        "first_day_last_month8": "20170401",
        "first_day_last_month10": "2017-04-01",
        "last_day_last_month8": "20170430",
        "last_day_last_month10": "2017-04-30",
        "monday_next_week8": "20170529",
        "monday_next_week10": "2017-05-29",
        "30days_cal_dt": "2017-04-26",
        # business datetime 2017-05-26 13:50, one hour earlier: 12:50
        "hcal_dt8": "20170526",
        "cal_hr": "12",
        "this_hour": "2017-05-27 13:00:00",
        "unix_timestamp": "1495864200",
        "task_id": "104890",
        "instance_id": "2809-20170527135000",
        "env.APP_CUSTOMER": "CLP",
        "env.APP_ID": "a22b94f9-3b9d-40f6-9bd8-4d66b304d930",
    }


def test_names_constant_matches_the_table() -> None:
    assert tuple(system_variables(SPEC)) == SYSTEM_VARIABLE_NAMES


def test_spec_printed_unix_timestamp_is_gmt8_with_41_seconds() -> None:
    assert system_variables(at("2017-05-27T13:50:41+08:00", SHANGHAI))["unix_timestamp"] == "1495864241"


@pytest.mark.parametrize(
    ("trigger", "unix"),
    [
        ("2017-05-27T05:50:41.999+00:00", "1495864241"),  # milliseconds are dropped, not rounded
        ("1970-01-01T00:00:00+00:00", "0"),
        ("1969-12-31T23:59:59.500+00:00", "-1"),  # floored
        ("2024-05-01T20:00:00+00:00", "1714593600"),
    ],
)
def test_unix_timestamp(trigger: str, unix: str) -> None:
    assert system_variables(at(trigger))["unix_timestamp"] == unix


@pytest.mark.parametrize(
    ("trigger", "zone", "hcal_dt8", "cal_hr"),
    [
        # the spec's hour example: business datetime 2017-05-26 00:30 → 2017-05-25 23:30
        ("2017-05-27T00:30:00+08:00", SHANGHAI, "20170525", "23"),
        ("2017-05-27T01:00:00+08:00", SHANGHAI, "20170526", "00"),
        ("2017-05-27T23:59:59+08:00", SHANGHAI, "20170526", "22"),
        ("2024-03-01T00:10:00+00:00", UTC, "20240228", "23"),  # business date 02-29, an hour earlier 02-28
        ("2024-01-01T00:30:00+00:00", UTC, "20231230", "23"),
    ],
)
def test_hour_variables(trigger: str, zone: tzinfo, hcal_dt8: str, cal_hr: str) -> None:
    values = system_variables(at(trigger, zone))
    assert (values["hcal_dt8"], values["cal_hr"]) == (hcal_dt8, cal_hr)


DATE_KEYS = (
    "cal_dt",
    "ncal_dt8",
    "last_week10",
    "first_day_this_month10",
    "end_day_this_month8",
    "first_day_last_month10",
    "last_day_last_month8",
    "monday_next_week10",
    "30days_cal_dt",
)


@pytest.mark.parametrize(
    ("trigger", "zone", "expected"),
    [
        pytest.param(
            "2024-03-01T10:00:00+00:00",
            UTC,
            ("2024-02-29", "20240301", "2024-02-23", "2024-02-01", "20240229", "2024-01-01", "20240131",
             "2024-03-04", "2024-01-30"),
            id="leap-day-business-date",
        ),
        pytest.param(
            "2023-03-01T10:00:00+00:00",
            UTC,
            ("2023-02-28", "20230301", "2023-02-22", "2023-02-01", "20230228", "2023-01-01", "20230131",
             "2023-03-06", "2023-01-29"),
            id="non-leap-february",
        ),
        pytest.param(
            "2024-01-15T08:00:00+00:00",
            UTC,
            ("2024-01-14", "20240115", "2024-01-08", "2024-01-01", "20240131", "2023-12-01", "20231231",
             "2024-01-15", "2023-12-15"),
            id="january-previous-month-is-december",
        ),
        pytest.param(
            "2024-01-01T00:30:00+00:00",
            UTC,
            ("2023-12-31", "20240101", "2023-12-25", "2023-12-01", "20231231", "2023-11-01", "20231130",
             "2024-01-01", "2023-12-01"),
            id="new-year-trigger",
        ),
        pytest.param(
            "2024-05-07T12:00:00+00:00",
            UTC,
            ("2024-05-06", "20240507", "2024-04-30", "2024-05-01", "20240531", "2024-04-01", "20240430",
             "2024-05-13", "2024-04-06"),
            id="monday-business-date-gives-the-following-monday",
        ),
        pytest.param(
            "2024-05-01T20:00:00+00:00",
            SHANGHAI,
            ("2024-05-01", "20240502", "2024-04-25", "2024-05-01", "20240531", "2024-04-01", "20240430",
             "2024-05-06", "2024-04-01"),
            id="shanghai-local-date-is-a-day-ahead-of-utc",
        ),
        pytest.param(
            "2024-05-01T20:00:00+00:00",
            UTC,
            ("2024-04-30", "20240501", "2024-04-24", "2024-04-01", "20240430", "2024-03-01", "20240331",
             "2024-05-06", "2024-03-31"),
            id="same-instant-in-utc",
        ),
        pytest.param(
            "2024-03-30T23:30:00+00:00",
            BERLIN,
            ("2024-03-30", "20240331", "2024-03-24", "2024-03-01", "20240331", "2024-02-01", "20240229",
             "2024-04-01", "2024-02-29"),
            id="berlin-just-after-local-midnight-before-spring-forward",
        ),
        pytest.param(
            "2024-10-27T23:30:00+00:00",
            BERLIN,
            ("2024-10-27", "20241028", "2024-10-21", "2024-10-01", "20241031", "2024-09-01", "20240930",
             "2024-10-28", "2024-09-27"),
            id="berlin-after-fall-back",
        ),
    ],
)  # fmt: skip
def test_date_variables(trigger: str, zone: tzinfo, expected: tuple[str, ...]) -> None:
    values = system_variables(at(trigger, zone))
    assert tuple(values[key] for key in DATE_KEYS) == expected


@pytest.mark.parametrize(
    ("trigger", "cal_dt", "this_hour", "hcal_dt8", "cal_hr"),
    [
        ("2024-03-30T23:30:00+00:00", "2024-03-30", "2024-03-31 00:00:00", "20240329", "23"),  # 00:30 CET
        ("2024-03-31T00:59:00+00:00", "2024-03-30", "2024-03-31 01:00:00", "20240330", "00"),  # 01:59 CET
        ("2024-03-31T01:00:00+00:00", "2024-03-30", "2024-03-31 03:00:00", "20240330", "02"),  # 03:00 CEST
        # 03:30 CEST on 04-01: the business day 03-31 had no 02:xx, but the hour is wall-clock (docstring)
        ("2024-04-01T01:30:00+00:00", "2024-03-31", "2024-04-01 03:00:00", "20240331", "02"),
        ("2024-10-27T00:30:00+00:00", "2024-10-26", "2024-10-27 02:00:00", "20241026", "01"),  # 02:30 CEST
        ("2024-10-27T01:30:00+00:00", "2024-10-26", "2024-10-27 02:00:00", "20241026", "01"),  # 02:30 CET
        ("2024-10-27T02:30:00+00:00", "2024-10-26", "2024-10-27 03:00:00", "20241026", "02"),  # 03:30 CET
    ],
)
def test_berlin_dst_days_follow_the_local_wall_clock(
    trigger: str, cal_dt: str, this_hour: str, hcal_dt8: str, cal_hr: str
) -> None:
    values = system_variables(at(trigger, BERLIN))
    assert (values["cal_dt"], values["this_hour"], values["hcal_dt8"], values["cal_hr"]) == (
        cal_dt,
        this_hour,
        hcal_dt8,
        cal_hr,
    )


def test_repeated_fall_back_hour_differs_only_in_unix_timestamp() -> None:
    first = system_variables(at("2024-10-27T00:30:00+00:00", BERLIN))
    second = system_variables(at("2024-10-27T01:30:00+00:00", BERLIN))
    assert {key for key in first if first[key] != second[key]} == {"unix_timestamp"}
    assert int(second["unix_timestamp"]) - int(first["unix_timestamp"]) == 3600


def test_trigger_offset_does_not_matter_only_the_instant() -> None:
    assert system_variables(at("2024-05-01T20:00:00+00:00", SHANGHAI)) == system_variables(
        at("2024-05-02T04:00:00+08:00", SHANGHAI)
    )


def test_non_time_variables_when_absent() -> None:
    values = system_variables(at("2024-05-01T20:00:00+00:00"))
    assert {values[k] for k in ("task_id", "instance_id", "env.APP_CUSTOMER", "env.APP_ID")} == {""}


def test_naive_trigger_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RunContext(trigger_at=datetime(2024, 5, 1, 20), zone=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${cal_dt-1}", "2017-05-25"),
        ("${cal_dt8-1}", "20170525"),
        ("${cal_dt-0}", "2017-05-26"),
        ("${cal_dt-7}", "2017-05-19"),
        ("${cal_dt-007}", "2017-05-19"),
        ("${cal_dt-26}", "2017-04-30"),
        ("${cal_dt-30}", "2017-04-26"),
        ("${cal_dt-365}", "2016-05-26"),
        ("${cal_dt8-147}", "20161230"),
        ("${cal_dt+1}", "2017-05-27"),
        ("${cal_dt8+6}", "20170601"),
        ("${ncal_dt-1}", "2017-05-26"),
        ("${ncal_dt+0}", "2017-05-27"),
        ("${ncal_dt8+5}", "20170601"),
        ("${ncal_dt8-27}", "20170430"),
    ],
)
def test_offset_forms(text: str, expected: str) -> None:
    assert substitute(text, {}, SPEC) == expected


@pytest.mark.parametrize(
    "name",
    [
        "cal_dt-",
        "cal_dt - 1",
        "cal_dt-1.5",
        "cal_dt--1",
        "cal_dt-123456",
        "cal_dt-\u0661",  # ARABIC-INDIC DIGIT ONE
        "last_week8-1",
        "30days_cal_dt-1",
        "hcal_dt8-1",
        "CAL_DT",
        " cal_dt",
        "",
        "HOME",
        "VAR:-x",
    ],
)
def test_not_variables(name: str) -> None:
    with pytest.raises(UnknownVariableError) as caught:
        substitute("x ${" + name + "} y", {}, SPEC)
    assert caught.value.names == (name,)


def test_offsets_near_the_ends_of_the_date_range() -> None:
    late = at("9998-12-31T12:00:00+00:00")
    assert substitute("${ncal_dt+1}", {}, late) == "9999-01-01"
    with pytest.raises(UnknownVariableError):
        substitute("${ncal_dt+99999}", {}, late)
    early = at("1000-01-02T12:00:00+00:00")
    assert substitute("${cal_dt8} ${cal_dt8-1} ${cal_dt-1}", {}, early) == "10000101 09991231 0999-12-31"


@pytest.mark.parametrize(
    ("trigger", "zone"),
    [
        ("0999-12-31T12:00:00+00:00", UTC),
        ("1000-01-01T00:30:00+00:00", ZoneInfo("America/New_York")),  # 0999-12-31 locally
        ("9999-01-01T00:00:00+00:00", UTC),
        ("9999-12-31T23:00:00+00:00", SHANGHAI),  # the local time does not fit a datetime
    ],
)
def test_trigger_year_out_of_range_is_rejected(trigger: str, zone: tzinfo) -> None:
    with pytest.raises(ValueError, match="years 1000-9998"):
        at(trigger, zone)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('echo "${REPLACE}"', 'echo "lili"'),
        ("${env.APP_CUSTOMER}/${env.APP_ID}", "CLP/a22b94f9-3b9d-40f6-9bd8-4d66b304d930"),
        ("dt=${cal_dt8},hr=${cal_hr}", "dt=20170526,hr=12"),
        ("${instance_id} ${task_id}", "2809-20170527135000 104890"),
        ("$${HOME}", "${HOME}"),
        ("echo $${cal_dt} ${cal_dt}", "echo ${cal_dt} 2017-05-26"),
        ("$$${REPLACE}", "$${REPLACE}"),
        ("echo $$ $HOME $REPLACE", "echo $$ $HOME $REPLACE"),
        ("$", "$"),
        ("{}", "{}"),
        ("${REPLACE}}", "lili}"),
        ("${REPLACE}${REPLACE}", "lililili"),
        ("", ""),
    ],
)
def test_substitute(text: str, expected: str) -> None:
    assert substitute(text, {"REPLACE": "lili"}, SPEC) == expected


def test_user_parameters_win_over_system_variables() -> None:
    values = {"task_id": "123456", "cal_dt": "2000-01-01"}
    assert substitute("${task_id} ${cal_dt}", values, SPEC) == "123456 2000-01-01"
    # offsets count from the trigger time, never from a parameter named cal_dt
    assert substitute("${cal_dt-1}", values, SPEC) == "2017-05-25"


def test_values_are_inserted_verbatim_not_rescanned() -> None:
    assert substitute("${p}", {"p": "${q} $${"}, SPEC) == "${q} $${"


def test_unknown_error_lists_every_unknown_name_once() -> None:
    with pytest.raises(UnknownVariableError) as caught:
        substitute("${a} ${cal_dt} ${b}\n${a} ${}", {}, SPEC)
    error = caught.value
    assert error.names == ("a", "b", "")
    assert error.message.count("${a}") == 1
    assert "${b}" in error.message
    assert "${}" in error.message
    assert "$${" in error.message  # the hint on escaping
    assert isinstance(error, InvalidParameterError)
    assert error.code == 62102


def test_unknown_long_name_is_shortened_in_the_message() -> None:
    with pytest.raises(UnknownVariableError) as caught:
        substitute("${" + "x" * 500 + "}", {}, SPEC)
    assert len(caught.value.message) < 150
    assert caught.value.names == ("x" * 500,)


@pytest.mark.parametrize("text", ["echo ${cal_dt", "${REPLACE}${", "${cal_dt\n}", "${a${b"])
def test_unterminated_reference_is_a_syntax_error(text: str) -> None:
    with pytest.raises(InvalidParameterError, match="Unterminated") as caught:
        substitute(text, {"REPLACE": "x"}, SPEC)
    assert not isinstance(caught.value, UnknownVariableError)


def test_text_without_a_reference_does_no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "echo $HOME $$ {braces} $"
    monkeypatch.setattr(parameters, "_TOKEN", None)
    monkeypatch.setattr(parameters, "system_variables", None)
    assert substitute(text, {}, SPEC) is text


def test_system_variables_are_computed_only_when_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(ctx: RunContext) -> dict[str, str]:
        raise AssertionError("system variables computed")

    monkeypatch.setattr(parameters, "system_variables", fail)
    assert substitute("${p}-$${x}", {"p": "1"}, SPEC) == "1-${x}"


def test_resolve_chains_in_any_order() -> None:
    params = [("a", "${b}-x"), ("b", "${cal_dt8}"), ("c", "${a}/${b}/${cal_dt-1}"), ("d", "plain")]
    assert resolve_parameters(params, SPEC) == {
        "a": "20170526-x",
        "b": "20170526",
        "c": "20170526-x/20170526/2017-05-25",
        "d": "plain",
    }
    assert list(resolve_parameters(params, SPEC)) == ["a", "b", "c", "d"]


def test_resolve_repeated_key_takes_last_value_in_first_position() -> None:
    resolved = resolve_parameters([("env", "dev"), ("x", "${env}"), ("env", "prod")], SPEC)
    assert resolved == {"env": "prod", "x": "prod"}
    assert list(resolved) == ["env", "x"]


def test_resolve_parameter_hides_system_variable() -> None:
    params = [("p", "${cal_dt}|${task_id}"), ("cal_dt", "2020-01-01"), ("task_id", "123456")]
    assert resolve_parameters(params, SPEC)["p"] == "2020-01-01|123456"


def test_resolve_escape_survives_and_is_not_rescanned() -> None:
    resolved = resolve_parameters([("h", "$${HOME}/${cal_dt8}"), ("g", "${h}")], SPEC)
    assert resolved == {"h": "${HOME}/20170526", "g": "${HOME}/20170526"}
    assert substitute("ls ${g}", resolved, SPEC) == "ls ${HOME}/20170526"


@pytest.mark.parametrize(
    ("params", "cycles"),
    [
        ([("a", "${a}")], [("a", "a")]),
        ([("a", "x${b}"), ("b", "${a}y")], [("a", "b", "a")]),
        ([("a", "${b}"), ("b", "${c}"), ("c", "${b}")], [("b", "c", "b")]),
        (
            [("a", "${b}"), ("b", "${a}"), ("c", "${d}"), ("d", "${c}"), ("e", "${a}")],
            [("a", "b", "a"), ("c", "d", "c")],
        ),
        ([("cal_dt", "${cal_dt}")], [("cal_dt", "cal_dt")]),  # not a reference to the system variable
    ],
)
def test_resolve_reports_every_cycle(params: list[tuple[str, str]], cycles: list[tuple[str, ...]]) -> None:
    with pytest.raises(ParameterCycleError) as caught:
        resolve_parameters(params, SPEC)
    assert list(caught.value.cycles) == cycles
    for cycle in cycles:
        assert " -> ".join(cycle) in caught.value.message


def test_resolve_reports_every_unknown_name_with_its_parameters() -> None:
    with pytest.raises(UnknownVariableError) as caught:
        resolve_parameters([("a", "${x}"), ("b", "${x} ${y} ${x}"), ("c", "${cal_dt}")], SPEC)
    assert caught.value.names == ("x", "y")
    assert caught.value.where == {"x": ("a", "b"), "y": ("b",)}
    assert "${x} (in parameter a, b)" in caught.value.message


def test_resolve_reports_unknown_names_before_cycles() -> None:
    with pytest.raises(UnknownVariableError):
        resolve_parameters([("a", "${a}${zz}")], SPEC)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("", "x")], "empty"),
        ([("p", "ok"), ("q", "${cal_dt")], "Unterminated '\\$\\{' at character 0 of parameter 'q'"),
    ],
)
def test_resolve_rejects(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        resolve_parameters(params, SPEC)


def test_resolve_long_chain_does_not_recurse() -> None:
    keys = [f"p{i}" for i in range(5000)]
    params = [(a, "${" + b + "}") for a, b in itertools.pairwise(keys)] + [(keys[-1], "end")]
    assert set(resolve_parameters(params, SPEC).values()) == {"end"}


def test_resolve_nothing() -> None:
    assert resolve_parameters([], SPEC) == {}


FLOWYARD_NAMES = {
    "FLOWYARD_CAL_DT",
    "FLOWYARD_CAL_DT8",
    "FLOWYARD_NCAL_DT",
    "FLOWYARD_NCAL_DT8",
    "FLOWYARD_LAST_WEEK8",
    "FLOWYARD_LAST_WEEK10",
    "FLOWYARD_FIRST_DAY_THIS_MONTH8",
    "FLOWYARD_FIRST_DAY_THIS_MONTH10",
    "FLOWYARD_END_DAY_THIS_MONTH8",
    "FLOWYARD_END_DAY_THIS_MONTH10",
    "FLOWYARD_FIRST_DAY_LAST_MONTH8",
    "FLOWYARD_FIRST_DAY_LAST_MONTH10",
    "FLOWYARD_LAST_DAY_LAST_MONTH8",
    "FLOWYARD_LAST_DAY_LAST_MONTH10",
    "FLOWYARD_MONDAY_NEXT_WEEK8",
    "FLOWYARD_MONDAY_NEXT_WEEK10",
    "FLOWYARD_30DAYS_CAL_DT",
    "FLOWYARD_HCAL_DT8",
    "FLOWYARD_CAL_HR",
    "FLOWYARD_THIS_HOUR",
    "FLOWYARD_UNIX_TIMESTAMP",
    "FLOWYARD_TASK_ID",
    "FLOWYARD_INSTANCE_ID",
    "FLOWYARD_ENV_APP_CUSTOMER",
    "FLOWYARD_ENV_APP_ID",
    "FLOWYARD_TRIGGER_TIME",
    "FLOWYARD_TASK_INSTANCE_ID",
}


def test_environment() -> None:
    values = {
        "REPLACE": "lili",
        "_ok1": "z",
        "cal_dt": "user",
        "task_id": "123456",
        "my-key": "no",
        "env.X": "no",
        "30days": "no",
        "café": "no",
        "FLOWYARD_CAL_DT": "no",
        "FLOWYARD_OWN": "no",
    }
    env = environment(values, SPEC)
    assert set(env) == FLOWYARD_NAMES | {"REPLACE", "_ok1", "cal_dt", "task_id"}
    assert env["REPLACE"] == "lili"
    assert env["cal_dt"] == "user"
    assert env["FLOWYARD_CAL_DT"] == "2017-05-26"
    assert env["task_id"] == "123456"
    assert env["FLOWYARD_TASK_ID"] == "104890"
    assert env["FLOWYARD_30DAYS_CAL_DT"] == "2017-04-26"
    assert env["FLOWYARD_ENV_APP_ID"] == "a22b94f9-3b9d-40f6-9bd8-4d66b304d930"
    assert env["FLOWYARD_ENV_APP_CUSTOMER"] == "CLP"
    assert env["FLOWYARD_TRIGGER_TIME"] == "2017-05-27T13:50:00+08:00"
    assert env["FLOWYARD_TASK_INSTANCE_ID"] == "104890-20170527135000"


def test_environment_trigger_time_is_in_the_server_zone_with_whole_seconds() -> None:
    ctx = RunContext(trigger_at=datetime(2024, 5, 1, 20, 0, 5, 123000, tzinfo=UTC), zone=SHANGHAI)
    assert environment({}, ctx)["FLOWYARD_TRIGGER_TIME"] == "2024-05-02T04:00:05+08:00"
    utc = RunContext(trigger_at=datetime(2024, 5, 1, 20, tzinfo=UTC) + timedelta(minutes=1), zone=UTC)
    assert environment({}, utc)["FLOWYARD_TRIGGER_TIME"] == "2024-05-01T20:01:00+00:00"


def test_environment_rejects_nul() -> None:
    with pytest.raises(InvalidParameterError, match="NUL"):
        environment({"P": "a\0b"}, SPEC)
