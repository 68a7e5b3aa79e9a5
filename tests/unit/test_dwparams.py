"""DataWorks scheduling-parameter expressions: hand-computed tables per trigger time, constants, errors."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest

from flowyard.domain.dwparams import evaluate_expression, is_expression
from flowyard.domain.sysvars import RunContext
from flowyard.errors import InvalidParameterError

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def at(iso: str, zone: tzinfo = SHANGHAI, instance_id: str = "") -> RunContext:
    """A context triggered at ``iso`` (with its offset), wall clock read in ``zone``."""
    return RunContext(trigger_at=datetime.fromisoformat(iso), zone=zone, instance_id=instance_id)


# Trigger 2024-03-01 00:30:00 in Shanghai: business date 2024-02-29 (leap day),
# scheduled time 2024-03-01 00:30:00.
LEAP = at("2024-03-01T00:30:00+08:00", instance_id="2809-20240229163000")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # built-ins
        ("$bizdate", "20240229"),
        ("$cyctime", "20240301003000"),
        ("$gmtdate", "20240301"),
        ("$jobid", "2809"),
        # ${...}: business date, offsets in the smallest unit of the format
        ("${yyyymmdd}", "20240229"),
        ("${yyyy-mm-dd}", "2024-02-29"),
        ("${yyyy/mm/dd}", "2024/02/29"),
        ("${yyyy_mm_dd}", "2024_02_29"),
        ("${yy.mm.dd}", "24.02.29"),
        ("${yyyymm}", "202402"),
        ("${yyyy}", "2024"),
        ("${mm}", "02"),
        ("${dd}", "29"),
        ("${yyyymmdd-7}", "20240222"),
        ("${yyyymmdd+1}", "20240301"),
        ("${yyyymmdd-29}", "20240131"),
        ("${yyyy-mm-dd-1}", "2024-02-28"),
        ("${yyyy-mm-dd+1}", "2024-03-01"),
        ("${yyyymmdd-7*2}", "20240215"),
        ("${yyyymm-1}", "202401"),
        ("${yyyymm+1}", "202403"),
        ("${yyyymm-2}", "202312"),
        ("${yyyy-mm-1}", "2024-01"),
        ("${yyyy-1}", "2023"),
        ("${yyyy+1}", "2025"),
        ("${yy-1}", "23"),
        ("${yyyymmdd-0}", "20240229"),
        # $[...]: scheduled time, offsets in days, /24 hours, /24/60 minutes
        ("$[yyyymmddhh24miss]", "20240301003000"),
        ("$[yyyymmdd]", "20240301"),
        ("$[yyyy-mm-dd hh24:mi:ss]", "2024-03-01 00:30:00"),
        ("$[hh24]", "00"),
        ("$[mi]", "30"),
        ("$[ss]", "00"),
        ("$[yyyymmdd-1]", "20240229"),
        ("$[yyyymmdd+1]", "20240302"),
        ("$[yyyymmdd-7*1]", "20240223"),
        ("$[yyyymm-1]", "202402"),  # one *day* back: $[...] offsets never count months
        ("$[hh24miss-1/24]", "233000"),
        ("$[yyyymmddhh24miss-1/24]", "20240229233000"),
        ("$[yyyymmddhh24miss+1/24]", "20240301013000"),
        ("$[yyyymmddhh24mi-30/24/60]", "202403010000"),
        ("$[yyyymmddhh24mi-31/24/60]", "202402292359"),
        ("$[yyyymmddhh24mi-24*60/24/60]", "202402290030"),
        ("$[yyyymmddhh24-48/24]", "2024022800"),
        ("$[add_months(yyyymmdd,-1)]", "20240201"),
        ("$[add_months(yyyymmdd,12)]", "20250301"),
        ("$[add_months(yyyymmdd,-12*1)]", "20230301"),
        ("$[add_months(yyyymmdd,+1)]", "20240401"),
        ("$[add_months(yyyymmdd, -1)]", "20240201"),
        ("$[add_months(yyyy-mm-dd hh24:mi,-1)]", "2024-02-01 00:30"),
    ],
)
def test_leap_day_table(expr: str, expected: str) -> None:
    assert is_expression(expr)
    assert evaluate_expression(expr, LEAP) == expected


def test_business_date_equals_scheduled_date_minus_one_day() -> None:
    for iso in ("2024-03-01T00:30:00+08:00", "2024-01-01T23:59:59+08:00", "2023-03-01T12:00:00+08:00"):
        ctx = at(iso)
        assert evaluate_expression("${yyyymmdd}", ctx) == evaluate_expression("$[yyyymmdd-1]", ctx)
        assert evaluate_expression("$bizdate", ctx) == evaluate_expression("${yyyymmdd}", ctx)
        assert evaluate_expression("$cyctime", ctx) == evaluate_expression("$[yyyymmddhh24miss]", ctx)


# Trigger 2025-01-01 00:05:07 in Shanghai: business date 2024-12-31.
NEW_YEAR = at("2025-01-01T00:05:07+08:00")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("$bizdate", "20241231"),
        ("$cyctime", "20250101000507"),
        ("${yyyy}", "2024"),
        ("${yyyymm}", "202412"),
        ("${yyyymmdd+1}", "20250101"),
        ("${yyyymm+1}", "202501"),
        ("$[yyyy]", "2025"),
        ("$[yyyymmdd-1]", "20241231"),
        ("$[yyyymmddhh24miss-1/24]", "20241231230507"),
        ("$[yyyymmddhh24mi-5/24/60]", "202501010000"),
        ("$[yyyymmddhh24mi-6/24/60]", "202412312359"),
        ("$[add_months(yyyymmdd,-1)]", "20241201"),
        ("$[add_months(yyyymm,-13)]", "202312"),
    ],
)
def test_year_boundary(expr: str, expected: str) -> None:
    assert evaluate_expression(expr, NEW_YEAR) == expected


@pytest.mark.parametrize(
    ("iso", "expr", "expected"),
    [
        # end-of-month clamping of add_months
        ("2024-03-31T10:00:00+08:00", "$[add_months(yyyymmdd,-1)]", "20240229"),
        ("2023-03-31T10:00:00+08:00", "$[add_months(yyyymmdd,-1)]", "20230228"),
        ("2024-01-31T10:00:00+08:00", "$[add_months(yyyymmdd,1)]", "20240229"),
        ("2024-05-31T10:00:00+08:00", "$[add_months(yyyymmdd,-1)]", "20240430"),
        ("2024-02-29T10:00:00+08:00", "$[add_months(yyyymmdd,12)]", "20250228"),
        ("2024-02-29T10:00:00+08:00", "$[add_months(yyyymmdd,48)]", "20280229"),
        ("2024-08-31T10:00:00+08:00", "$[add_months(yyyymmddhh24mi,-6)]", "202402291000"),
        # the same clamping for month and year shifts of the business date
        ("2024-03-01T10:00:00+08:00", "${yyyy-1}", "2023"),  # 2024-02-29 -> 2023-02-28
        ("2024-04-01T10:00:00+08:00", "${yyyymm-1}", "202402"),  # 2024-03-31 -> 2024-02-29
        # business date at a month boundary
        ("2024-04-01T10:00:00+08:00", "${yyyy-mm-dd}", "2024-03-31"),
        ("2024-04-01T10:00:00+08:00", "$[yyyy-mm-dd]", "2024-04-01"),
    ],
)
def test_month_arithmetic(iso: str, expr: str, expected: str) -> None:
    assert evaluate_expression(expr, at(iso)) == expected


def test_zone_decides_the_dates() -> None:
    # 2024-02-29 17:30 UTC is 2024-03-01 01:30 in Shanghai.
    ctx_utc = at("2024-02-29T17:30:00+00:00", zone=UTC)
    ctx_sh = at("2024-02-29T17:30:00+00:00", zone=SHANGHAI)
    assert evaluate_expression("$cyctime", ctx_utc) == "20240229173000"
    assert evaluate_expression("$cyctime", ctx_sh) == "20240301013000"
    assert evaluate_expression("$bizdate", ctx_utc) == "20240228"
    assert evaluate_expression("$bizdate", ctx_sh) == "20240229"
    assert evaluate_expression("$gmtdate", ctx_sh) == "20240301"  # the zone's date, not GMT's


@pytest.mark.parametrize(
    ("iso", "expr", "expected"),
    [
        # Spring forward: 2024-03-31 02:00 CET jumps to 03:00 CEST. Offsets move the
        # wall clock, so one hour before 03:30 reads 02:30 (as sysvars' cal_hr does).
        ("2024-03-31T03:30:00+02:00", "$[yyyymmddhh24mi]", "202403310330"),
        ("2024-03-31T03:30:00+02:00", "$[hh24mi-1/24]", "0230"),
        ("2024-03-31T03:30:00+02:00", "$[hh24mi-90/24/60]", "0200"),
        ("2024-03-31T03:30:00+02:00", "$[yyyymmddhh24mi-1]", "202403300330"),
        ("2024-03-31T03:30:00+02:00", "$bizdate", "20240330"),
        ("2024-04-01T00:30:00+02:00", "$bizdate", "20240331"),
        ("2024-04-01T00:30:00+02:00", "$[yyyymmddhh24-1]", "2024033100"),
        # Fall back: 02:30 happens twice on 2024-10-27; both read the same wall clock.
        ("2024-10-27T02:30:00+02:00", "$cyctime", "20241027023000"),
        ("2024-10-27T02:30:00+01:00", "$cyctime", "20241027023000"),
        ("2024-10-27T02:30:00+01:00", "$[hh24mi-1/24]", "0130"),
        ("2024-10-27T02:30:00+01:00", "$[yyyymmddhh24mi+1]", "202410280230"),
        ("2024-10-27T02:30:00+01:00", "${yyyymmdd}", "20241026"),
    ],
)
def test_dst_zone(iso: str, expr: str, expected: str) -> None:
    assert evaluate_expression(expr, at(iso, zone=BERLIN)) == expected


def test_years_below_1000_are_padded() -> None:
    ctx = at("1000-01-01T08:00:00+08:00")
    assert evaluate_expression("$bizdate", ctx) == "09991231"
    assert evaluate_expression("${yy}", ctx) == "99"


@pytest.mark.parametrize(
    ("instance_id", "expected"),
    [("2809-20170527135000", "2809"), ("", ""), ("no-dash-free", "no-dash"), ("plain", "")],
)
def test_jobid_is_the_flow_part_of_the_instance_id(instance_id: str, expected: str) -> None:
    ctx = at("2024-03-01T00:30:00+08:00", instance_id=instance_id)
    assert evaluate_expression("$jobid", ctx) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "123",
        "'123'",
        "yyyymmdd",
        "$",
        "$bizmonth",  # undocumented here: opaque, passed through
        "$1",
        "$BIZDATE",
        "$bizdate ",
        " $bizdate",
        "pt=${yyyymmdd}",  # only whole values are expressions
        "x_$[hh24]",
        "$[yyyymmdd]_01",
        "${yyyymmdd}${hh}",
        "$[yyyymmdd",
        "${cal_dt}",  # EnOS references are left for parameters.substitute
        "${cal_dt-1}",
        "${name}",
        "${yyyymmdd-x}",  # not DataWorks-shaped: an EnOS name, reported there if unknown
        "${YYYYMMDD}",
        "${}",
        "${1}",
        "$${yyyymmdd}",
    ],
)
def test_constants_pass_through(value: str) -> None:
    assert not is_expression(value)
    assert evaluate_expression(value, LEAP) == value


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("$[yyyymmdd-x]", "'$[yyyymmdd-x]': cannot read 'x'"),
        ("$[yyyymmdd+x]", "'$[yyyymmdd+x]': cannot read '+x'"),
        ("$[YYYYMMDD]", "'$[YYYYMMDD]': cannot read 'YYYYMMDD'"),
        ("$[yyyymmddhh]", "cannot read 'hh'"),
        ("$[yyyymmdd hh:mi]", "cannot read 'hh:mi'"),
        ("$[yyymmdd]", "cannot read 'ymmdd'"),
        ("$[]", "'$[]': the format is empty"),
        ("$[-1]", "the format is empty"),
        ("$[---]", "the format has no date or time token"),
        ("$[hh24miss-1/25]", "bad offset '-1/25'"),
        ("$[hh24miss-1/24/60/60]", "bad offset '-1/24/60/60'"),
        ("$[yyyymmdd-1234567890]", "bad offset '-1234567890'"),
        ("$[yyyymmdd-1.5]", "bad offset '-1.5'"),
        ("$[add_months(yyyymmdd)]", "expected add_months(format,N)"),
        ("$[add_months(yyyymmdd,x)]", "expected add_months(format,N)"),
        ("$[add_months(yyyymmdd,-1)-1]", "expected add_months(format,N)"),
        ("$[add_months(,-1)]", "the format is empty"),
        ("$[add_months(yyyymmdx,-1)]", "cannot read 'dx'"),
        ("${hh24}", "'${hh24}': ${...} is the business date (day precision), 'hh24' needs $[...]"),
        ("${yyyymmddhh24miss}", "'hh24' needs $[...]"),
        ("${mi}", "'mi' needs $[...]"),
        ("${yyyymmdd-1/24}", "${...} offsets are whole units, '/24' needs $[...]"),
        ("${dd_ms}", "cannot read 'ms'"),
        ("$[yyyymmdd-999999999*999999999]", "the result lies outside the years 1-9999"),
        ("$[add_months(yyyymmdd,-999999999)]", "the result lies outside the years 1-9999"),
        ("${yyyy+8000}", "the result lies outside the years 1-9999"),
        ("$[yyyymmdd+2920000]", "the result lies outside the years 1-9999"),
    ],
)
def test_invalid_expressions_name_the_expression(expr: str, message: str) -> None:
    assert is_expression(expr)
    with pytest.raises(InvalidParameterError, match="Invalid scheduling-parameter expression") as caught:
        evaluate_expression(expr, LEAP)
    assert message in str(caught.value)
    assert caught.value.code == 62102


def test_long_expressions_are_shortened_in_messages() -> None:
    expr = "$[" + "yyyy" * 40 + "x]"
    with pytest.raises(InvalidParameterError) as caught:
        evaluate_expression(expr, LEAP)
    assert "'$[yyyyyyyy" in str(caught.value)
    assert "...'" in str(caught.value)
    assert expr not in str(caught.value)


def test_evaluation_is_repeatable() -> None:
    # Parsing is cached; the cache must not leak values between contexts.
    other = at("2030-06-15T12:00:00+08:00")
    for _ in range(2):
        assert evaluate_expression("$[yyyymmddhh24-1/24]", LEAP) == "2024022923"
        assert evaluate_expression("$[yyyymmddhh24-1/24]", other) == "2030061511"
