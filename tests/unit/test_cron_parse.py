"""Parser tests: what Quartz 2.3.2 accepts (with which value sets) and what it rejects (and why)."""

from __future__ import annotations

import pickle

import pytest

from flowyard.cron import MAX_YEAR, CronError, parse_cron
from flowyard.domain.cron.expression import parse_cron_with_max_year

EVERY_SECOND = tuple(range(60))


@pytest.mark.parametrize(
    ("expr", "attr", "values"),
    [
        ("0/15 0 0 * * ?", "seconds", (0, 15, 30, 45)),
        ("5/15 0 0 * * ?", "seconds", (5, 20, 35, 50)),
        ("*/20 0 0 * * ?", "seconds", (0, 20, 40)),
        ("/20 0 0 * * ?", "seconds", (0, 20, 40)),  # a leading '/' means '*/'
        ("10-20/5 0 0 * * ?", "seconds", (10, 15, 20)),
        ("50-10/5 0 0 * * ?", "seconds", (0, 5, 10, 50, 55)),  # descending ranges wrap
        ("5-10/75 0 0 * * ?", "seconds", (5,)),  # no increment check after a range
        ("5/0 0 0 * * ?", "seconds", (5,)),  # increment 0 keeps just the start
        ("0 0 22-2 * * ?", "hours", (0, 1, 2, 22, 23)),
        ("0 0 5,L * * ?", "hours", (5,)),  # 'L' adds nothing outside the day fields
        ("0 0 0 1 NOV-FEB ?", "months", (1, 2, 11, 12)),
        ("0 0 0 1 7/6 ?", "months", (7,)),
        ("0 0 0 1 jan,Mar ?", "months", (1, 3)),
        ("0 0 0 1 JANUARY ?", "months", (1,)),  # Quartz reads three letters and stops
        ("0 0 0 ? * SAT-MON", "days_of_week", (1, 2, 7)),
        ("0 0 0 ? * MON-FRI/2", "days_of_week", (2, 3, 4, 5, 6)),  # '/2' after names is ignored
        ("0 0 0 ? * L", "days_of_week", (7,)),  # bare L in day-of-week is Saturday
        ("0 0 0 ? * 9#3", "days_of_week", (9,)),  # not range-checked before '#'
        ("0 0 0 5X * ?", "days_of_month", (5,)),  # trailing characters are ignored
        ("99 0 0 * * ?", "seconds", (*EVERY_SECOND, 99)),  # 99 is Quartz's '*' marker
        ("*X 0 0 * * ?", "seconds", EVERY_SECOND),
        ("0 0 0 * * ? 2090/5", "years", (2090, 2095)),
        ("0 0 0 * * ? 2090-3000/5", "years", (2090, 2095, 2100)),  # one year past the limit is kept
        ("0 0 0 * * ? 1960", "years", (1960,)),  # not range-checked; simply never fires
        ("0 0 0 * * ? 2200", "years", (2200,)),
    ],
)
def test_value_sets(expr: str, attr: str, values: tuple[int, ...]) -> None:
    assert getattr(parse_cron(expr).fields, attr) == values


@pytest.mark.parametrize(
    ("expr", "flags"),
    [
        ("0 0 0 L * ?", {"last_day_of_month": True, "last_day_offset": 0, "nearest_weekday": False}),
        ("0 0 0 L-3 * ?", {"last_day_of_month": True, "last_day_offset": 3}),
        ("0 0 0 LW * ?", {"last_day_of_month": True, "nearest_weekday": True}),
        ("0 0 0 L-5W * ?", {"last_day_of_month": True, "last_day_offset": 5, "nearest_weekday": True}),
        ("0 0 0 15W * ?", {"last_day_of_month": False, "nearest_weekday": True, "days_of_month": (15,)}),
        ("0 0 0 ? * 6L", {"last_day_of_week": True, "days_of_week": (6,)}),
        ("0 0 0 ? * FRIL", {"last_day_of_week": True, "days_of_week": (6,)}),
        ("0 0 0 ? * 6#3", {"nth_day_of_week": 3, "days_of_week": (6,)}),
        ("0 0 0 ? * mon#2", {"nth_day_of_week": 2, "days_of_week": (2,)}),
        ("0 0 0 ? * 2#+3", {"nth_day_of_week": 3}),  # Integer.parseInt accepts a '+'
    ],
)
def test_special_characters(expr: str, flags: dict[str, object]) -> None:
    fields = parse_cron(expr).fields
    for name, value in flags.items():
        assert getattr(fields, name) == value, name


@pytest.mark.parametrize(
    "expr",
    [
        "0 0 0 * * ?\n",  # fields are trimmed; newlines are not separators
        "  0\t0  0 * * ?  ",
        "0 0 0 * * ? * extra fields are ignored",
        "0 0 0 ?X * MON",  # one stray character after '?' is tolerated
        "0 0 0 L-W * ?",
        "0 0 0 ? * 2#1,5",  # one '#' plus other days is accepted
        "0 0 0 1W,15 * ?",
        "0 0 0 ? * MON%",  # three letters are read, the rest ignored
    ],
)
def test_quartz_leniency_is_reproduced(expr: str) -> None:
    parse_cron(expr)


@pytest.mark.parametrize(
    ("expr", "field", "message"),
    [
        ("0 0 25 * * ?", "hour", "invalid cron expression '0 0 25 * * ?': hour value 25 out of range 0-23"),
        ("60 0 0 * * ?", "second", "second value 60 out of range 0-59"),
        ("0 5-61 0 * * ?", "minute", "minute value 61 out of range 0-59"),
        ("0 0 0 32 * ?", "day-of-month", "day-of-month value 32 out of range 1-31"),
        ("0 0 0 0 * ?", "day-of-month", "day-of-month value 0 out of range 1-31"),
        ("0 0 0 1 13 ?", "month", "month value 13 out of range 1-12"),
        ("0 0 0 ? * 8", "day-of-week", "day-of-week value 8 out of range 1-7"),
        ("0 0 0 ? * 0", "day-of-week", "day-of-week value 0 out of range 1-7"),
        ("0 0 0 1 FOO ?", "month", "invalid month name 'FOO'"),
        ("0 0 0 ? * MON-FOO", "day-of-week", "invalid day name 'FOO'"),
        ("0 0 0 ? * 1#6", "day-of-week", "between 1 and 5"),
        ("0 0 0 ? * 1#1,2#2", "day-of-week", "only one '#'"),
        ("0 0 0 L,5 * ?", "day-of-month", "'L' and 'LW' cannot be combined"),
        ("0 0 0 ? * 5L,6", "day-of-week", "'L' cannot be combined"),
        ("0 0 0 L-31 * ?", "day-of-month", "offset from last day must be <= 30"),
        ("0 0 0 32W * ?", "day-of-month", "at most 31"),
        ("0 0 0 5L * ?", "day-of-month", "'L' after a number is only allowed in day-of-week"),
        ("0 0 0 ? * 5W", "day-of-week", "'W' is only allowed in day-of-month"),
        ("0 0 ? * * ?", "hour", "'?' is only allowed in day-of-month or day-of-week"),
        ("0 0 0 ? * ?", "day-of-week", "'?' cannot be used in both"),
        ("*/60 0 0 * * ?", "second", "second increment 60 out of range 1-59"),
        ("0 0 */24 * * ?", "hour", "hour increment 24 out of range 1-23"),
        ("0 0 0 ? * */8", "day-of-week", "day-of-week increment 8 out of range 1-7"),
        ("0 5/ 0 * * ?", "minute", "'/' must be followed by an integer"),
        ("0 / 0 * * ?", "minute", "'/' must be followed by an integer"),
        ("0 5- 0 * * ?", "minute", "unexpected end"),
        ("0 0 0 ? * MO", "day-of-week", "unexpected end"),
        ("0 0 0 * * ? 2050-2040", "year", "start year must be less than stop year"),
        ("0 0 0 * * ? 2100/5", "year", "start year must be less than stop year"),  # past MAX_YEAR
        ("0 0 0 1 * ? L", "year", "year field selects no values"),
        (", 0 0 * * ?", "second", "second field selects no values"),
        ("0 0 0 ? * ,", "day-of-week", "day-of-week field selects no values"),
        ("0 0 0 2147483648 * ?", "day-of-month", "too large"),
        ("0 0 0 & * ?", "day-of-month", "unexpected character '&'"),
        ("0 0 0 * *", None, "expected 6 or 7 fields"),
        ("", None, "found 0"),
        ("0 0 0 5 * MON", None, "both are specified"),
        ("0 0 0 * * *", None, "exactly one of day-of-month and day-of-week must be '?'"),
    ],
)
def test_rejections_name_the_problem_and_field(expr: str, field: str | None, message: str | None) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expr)
    error = caught.value
    assert isinstance(error, ValueError)
    assert str(error).startswith(f"invalid cron expression '{expr}': ")
    assert error.field == field
    if field is not None:
        assert field in error.reason
    if message is not None:
        assert message in str(error)


def test_max_year_is_2099_and_overridable_for_quartz_compatibility() -> None:
    assert MAX_YEAR == 2099
    assert parse_cron("0 0 0 * * ?").fields.years[-1] == 2099
    assert parse_cron_with_max_year("0 0 0 * * ?", 2126).fields.years[-1] == 2126
    assert parse_cron_with_max_year("0 0 0 * * ? 2100/5", 2126).fields.years[0] == 2100


def test_cron_error_pickles() -> None:
    with pytest.raises(CronError) as caught:
        parse_cron("0 0 25 * * ?")
    clone = pickle.loads(pickle.dumps(caught.value))
    assert str(clone) == str(caught.value) and clone.field == "hour"


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_cron(None)  # type: ignore[arg-type]
