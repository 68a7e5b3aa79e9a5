"""Differential test: flowyard's cron implementation against the real Quartz 2.3.2 library.

One JVM runs ``tests/java/QuartzNext.java`` over a few thousand generated (expression, zone,
start) cases; for each one the accept/reject decision and the next five fire times must be
identical.  The generator is seeded (``SEED``), so a failure reproduces; each reported mismatch
prints the exact case.

Quartz's ``MAX_YEAR`` is the JVM's current year + 100.  Cases are first compared with that limit
(``parse_cron_with_max_year``) so every year Quartz can produce is checked, and then the public API
(limit 2099) must give exactly Quartz's answer cut off after 2099.

Explicit exclusions, each a documented Quartz defect (see ``flowyard.domain.cron.expression``):

* a field that selects no values: Quartz accepts it and then throws ``NoSuchElementException``
  (or never fires, for the year field); flowyard rejects it at parse time;
* Quartz never returning (``TIMEOUT``): flowyard must detect the same endless loop;
* ``W`` expressions are only started from whole seconds, because Quartz's ``W`` handling mixes in
  the wall clock's current milliseconds when the start time has a millisecond part.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowyard.cron import CronError, next_fire_times
from flowyard.domain.cron.expression import parse_cron_with_max_year, to_epoch_ms
from flowyard.domain.cron.schedule import QuartzLoopError, time_after_strict
from flowyard.domain.cron.zones import resolve_zone, rules_for

SEED = 20_240_601
GENERATED_CASES = 4000
COUNT = 5
JAVA_SOURCE = Path(__file__).resolve().parents[1] / "java" / "QuartzNext.java"
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Shanghai",
    "UTC",
    "America/Sao_Paulo",
]
EXTRA_ZONES = ["GMT+8", "GMT-5", "GMT+05:30"]

pytestmark = [pytest.mark.java, pytest.mark.xdist_group("quartz"), pytest.mark.timeout(300)]


# --------------------------------------------------------------------------------------------
# The Quartz oracle
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    status: str  # OK, PARSE_ERR, EVAL_ERR, TIMEOUT
    times: tuple[int, ...]
    message: str = ""


@dataclass(frozen=True)
class Case:
    expr: str
    tz: str
    after_ms: int

    def describe(self) -> str:
        after = datetime.fromtimestamp(self.after_ms / 1000, UTC).isoformat()
        return f"expr={self.expr!r} tz={self.tz} after_ms={self.after_ms} ({after})"


def _quartz_classpath() -> str | None:
    jar = os.environ.get("QUARTZ_JAR")
    candidates = [Path(jar)] if jar else sorted(Path("/usr/share/java").glob("quartz2*.jar"))
    candidates = [p for p in candidates if p.is_file()]
    if not candidates:
        return None
    # CronExpression only needs java.util; slf4j is added for completeness when present.
    extra = [p for p in [Path("/usr/share/java/slf4j-api.jar")] if p.is_file()]
    return os.pathsep.join(str(p) for p in [candidates[0], *extra])


class Quartz:
    def __init__(self, classpath: str, classes: Path) -> None:
        self.classpath = f"{classpath}{os.pathsep}{classes}"

    def run(self, cases: list[Case]) -> tuple[int, list[Outcome]]:
        def escape(text: str) -> str:
            return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

        stdin = "".join(f"{escape(c.expr)}\t{c.tz}\t{c.after_ms}\t{COUNT}\n" for c in cases)
        proc = subprocess.run(
            ["java", "-Xss4m", "-Duser.language=en", "-Duser.country=US", "-Duser.timezone=UTC",
             "-cp", self.classpath, "QuartzNext", "1500"],
            input=stdin, capture_output=True, text=True, encoding="utf-8", timeout=240, check=True,
        )  # fmt: skip
        lines = proc.stdout.split("\n")
        header, rows = lines[0].split("\t"), lines[1 : 1 + len(cases)]
        assert header[0] == "MAX_YEAR" and len(rows) == len(cases), proc.stderr[-2000:]
        outcomes = []
        for row in rows:
            status, times, message = row.split("\t", 2)
            outcomes.append(Outcome(status, tuple(int(t) for t in times.split(",") if t), message))
        return int(header[1]), outcomes


@pytest.fixture(scope="module")
def quartz(tmp_path_factory: pytest.TempPathFactory) -> Quartz:
    classpath = _quartz_classpath()
    if shutil.which("java") is None or shutil.which("javac") is None:
        pytest.skip("java/javac not found (needs Java 17)")
    if classpath is None:
        pytest.skip("Quartz jar not found: install Debian's libquartz2-java or set QUARTZ_JAR")
    classes = tmp_path_factory.mktemp("quartz-classes")
    subprocess.run(
        ["javac", "-nowarn", "-Xlint:none", "-cp", classpath, "-d", str(classes), str(JAVA_SOURCE)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return Quartz(classpath, classes)


# --------------------------------------------------------------------------------------------
# The flowyard side
# --------------------------------------------------------------------------------------------
def flowyard_outcome(case: Case, max_year: int) -> tuple[Outcome, CronError | None]:
    try:
        cron = parse_cron_with_max_year(case.expr, max_year)
    except CronError as exc:
        return Outcome("PARSE_ERR", (), str(exc)), exc
    rules = rules_for(resolve_zone(case.tz))
    times: list[int] = []
    current: int | None = case.after_ms
    try:
        while len(times) < COUNT:
            assert current is not None
            current = time_after_strict(cron.fields, rules, current)
            if current is None:
                break
            times.append(current)
    except QuartzLoopError:
        return Outcome("TIMEOUT", tuple(times)), None
    return Outcome("OK", tuple(times)), None


def is_documented_exclusion(quartz: Outcome, ours: Outcome, error: CronError | None) -> bool:
    """Quartz accepted a field without values and failed (or never fired); we rejected it."""
    if error is None or not error.reason.endswith("selects no values") or quartz.times:
        return False
    if quartz.status == "EVAL_ERR":
        return "NoSuchElementException" in quartz.message
    return quartz.status == "OK" and error.field == "year"


def compare(cases: list[Case], quartz: Quartz) -> list[str]:
    """Run all cases through both implementations; return human-readable mismatches."""
    quartz_max_year, expected = quartz.run(cases)
    problems: list[str] = []
    for case, theirs in zip(cases, expected, strict=True):
        ours, error = flowyard_outcome(case, quartz_max_year)
        same = ours.status == theirs.status and ours.times == theirs.times
        if not same and not is_documented_exclusion(theirs, ours, error):
            problems.append(f"{case.describe()}\n    quartz:   {theirs}\n    flowyard: {ours}")
            continue
        problems.extend(_check_public_api(case, ours, error))
    return problems


def _check_public_api(case: Case, exact: Outcome, exact_error: CronError | None) -> list[str]:
    """The public API (MAX_YEAR 2099) must give the exact answer cut off after 2099."""
    tz = resolve_zone(case.tz)
    after = EPOCH + timedelta(milliseconds=case.after_ms)  # exact, unlike fromtimestamp(float)
    try:
        public = [to_epoch_ms(t) for t in next_fire_times(case.expr, after, COUNT, case.tz)]
    except CronError as exc:
        # Only a year range starting after 2099 may be rejected in addition (see module doc).
        if exact_error is None and not (exc.field == "year" and "start year must be less" in exc.reason):
            return [f"{case.describe()}\n    public API rejected: {exc}"]
        return []
    if exact_error is not None:
        return [f"{case.describe()}\n    public API accepted what the exact parse rejected"]
    expected = []
    for t in exact.times:
        if datetime.fromtimestamp(t / 1000, tz).year > 2099:
            break
        expected.append(t)
    if exact.status == "TIMEOUT" and len(expected) == len(exact.times):
        expected = list(exact.times)
    if public != expected:
        return [f"{case.describe()}\n    public API: {public}\n    expected:   {expected}"]
    return []


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------
def _num(r: random.Random, lo: int, hi: int) -> str:
    return str(r.randint(lo, hi))


def _common(r: random.Random, lo: int, hi: int, inc_max: int) -> str:
    """A value of a plain numeric field: the forms every field supports."""
    forms = [
        lambda: _num(r, lo, hi),
        lambda: "*",
        lambda: f"{_num(r, lo, hi)}-{_num(r, lo, hi)}",  # includes wrapping ranges (22-2)
        lambda: f"{_num(r, lo, hi)}/{r.randint(1, inc_max)}",
        lambda: f"*/{r.randint(1, inc_max)}",
        lambda: f"{_num(r, lo, hi)}-{_num(r, lo, hi)}/{r.randint(1, inc_max + 3)}",
        lambda: ",".join(_num(r, lo, hi) for _ in range(r.randint(2, 4))),
        lambda: f"/{r.randint(1, inc_max)}",
    ]
    return r.choice(forms)()


def _broken(r: random.Random, lo: int, hi: int) -> str:
    """Values near or beyond Quartz's acceptance boundary."""
    return r.choice([
        str(hi + 1), str(lo - 1) if lo > 0 else "60", f"{lo}-", f"{lo}-{hi + 1}", f"*/{hi + 2}", "/",
        f"{lo}/0", f"{hi}/", "L", "W", "?", "99", "98", ",", f"{lo}X", "5-10/0", f"{lo}#2", "*X", "?X",
        "**", "1-2-3", f"{lo},", "-1", "2147483648", "+5", "3L", "7W",
    ])  # fmt: skip


def _fuzz(r: random.Random) -> str:
    alphabet = "0123456789" * 3 + "*/-,?LW#" * 2 + "JANFEBMONSUNSAT"
    return "".join(r.choice(alphabet) for _ in range(r.randint(1, 6)))


MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _field(r: random.Random, kind: str) -> str:
    roll = r.random()
    if roll < 0.06:
        return _fuzz(r)
    if kind in ("second", "minute", "hour"):
        hi = 23 if kind == "hour" else 59
        if roll < 0.12:
            return _broken(r, 0, hi)
        if roll < 0.4:
            return r.choice(["0", "0", "*", "30", "0,30", "0/15", "15"]) if kind != "hour" else _num(r, 0, 3)
        return _common(r, 0, hi, hi)
    if kind == "month":
        if roll < 0.1:
            return (
                _broken(r, 1, 12)
                if r.random() < 0.7
                else r.choice(["FOO", "JA", "JAN-", "JANUARY", "DEC-FOO"])
            )
        if roll < 0.35:
            names = r.sample(MONTHS, 2)
            return r.choice([names[0], "-".join(names), ",".join(names), f"{names[0]}/2"]).lower()
        return r.choice(["*", "*", _common(r, 1, 12, 12)])
    if kind == "dom":
        if roll < 0.1:
            return (
                _broken(r, 1, 31)
                if r.random() < 0.6
                else r.choice(["L,5", "LW,1", "L-31", "L-", "5LW", "32W"])
            )
        forms = ["L", "LW", f"L-{r.randint(0, 30)}", f"L-{r.randint(0, 30)}W", f"{r.randint(1, 31)}W", "1W",
                 f"{r.randint(28, 31)}W", "0W" if r.random() < 0.1 else "15W", f"{r.randint(25, 31)}", "*"]  # fmt: skip
        return r.choice(forms) if roll < 0.55 else _common(r, 1, 31, 31)
    if kind == "dow":
        if roll < 0.1:
            # Quartz does not range-check the weekday before '#' (0#2, 9#3 and 99#1 are accepted).
            weird = ["1#6", "2#1,3#2", "MON#", "8L", "FOO", "0#2", "8#1", "9#3", "99#1", "0#5", "MON#+2"]
            return _broken(r, 1, 7) if r.random() < 0.5 else r.choice(weird)
        day = r.choice(DAYS)
        forms = [f"{r.randint(1, 7)}L", f"{day}L", f"{r.randint(1, 7)}#{r.randint(1, 5)}", f"{day}#{r.randint(1, 5)}",
                 "L", day, f"{day}-{r.choice(DAYS)}", ",".join(r.sample(DAYS, 3)), "MON-FRI", "SAT-MON",
                 f"{r.randint(1, 7)}#{r.randint(1, 5)},{r.randint(1, 7)}"]  # fmt: skip
        return (
            r.choice(forms).lower()
            if roll < 0.6 and r.random() < 0.3
            else (r.choice(forms) if roll < 0.6 else _common(r, 1, 7, 7))
        )
    # year
    if roll < 0.1:
        return r.choice(
            ["2050-2040", "1969", "2100", "2127-2130", "2101/3", "2130/2", "0", "L", "?", "1960-1975"]
        )
    year = r.randint(1970, 2099)
    forms = [str(year), f"{year}-{min(year + r.randint(0, 30), 2110)}", f"{year}/{r.randint(1, 12)}", "*",
             f"*/{r.randint(2, 20)}", f"{year},{r.randint(1970, 2099)}", f"{r.randint(2015, 2035)}"]  # fmt: skip
    return r.choice(forms)


def generate_expression(r: random.Random) -> str:
    sec, minute, hour = _field(r, "second"), _field(r, "minute"), _field(r, "hour")
    month = _field(r, "month")
    dom, dow = _field(r, "dom"), _field(r, "dow")
    rule = r.random()
    # Quartz tolerates one stray character after '?' ("?X") but not two ("?XY").
    no_spec = r.choice(["?"] * 12 + ["?X", "?5", "?L", "?XY", "?,5", "5,?"])
    if rule < 0.45:
        dow = no_spec
    elif rule < 0.9:
        dom = no_spec
    elif rule < 0.95:
        dom = dow = "?"  # Quartz rejects '?' in both; otherwise both given: rejected too
    fields = [sec, minute, hour, dom, month, dow]
    if r.random() < 0.45:
        fields.append(_field(r, "year"))
    if r.random() < 0.03:
        fields = fields[: r.randint(3, 5)]  # too few fields
    elif r.random() < 0.03:
        fields.append(r.choice(["junk", "2030", "*"]))  # an eighth field is ignored by Quartz
    text = ""
    for i, value in enumerate(fields):
        text += (r.choice([" ", " ", " ", "  ", "\t", " \t "]) if i else "") + value
    if r.random() < 0.03:
        text = r.choice([" ", "\t", "  "]) + text + r.choice([" ", "\t", "\n", ""])
    return text.lower() if r.random() < 0.1 else text


def _transitions(tz_name: str, year: int) -> list[int]:
    """UTC epoch seconds of the zone's offset changes in ``year`` (found by daily scan + bisection)."""
    tz = resolve_zone(tz_name)

    def offset(sec: int) -> timedelta | None:
        return datetime.fromtimestamp(sec, tz).utcoffset()

    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    found = []
    for day in range(366):
        lo, hi = start + day * 86_400, start + (day + 1) * 86_400
        if offset(lo) != offset(hi):
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
            found.append(hi)
    return found


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
START = int(EPOCH.timestamp())
END = int(datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


def generate_after(r: random.Random, tz_name: str) -> int:
    """Start times: uniform 1970-2099, near DST transitions, near month/year ends, and late 2099."""
    roll = r.random()
    if roll < 0.4:
        return r.randint(START, END) * 1000 + r.randint(0, 999)
    if roll < 0.8:
        year = r.randint(1970, 2099)
        transitions = _transitions(tz_name, year)
        if transitions:
            moment = r.choice(transitions) + r.choice([-1, 0, 1, r.randint(-86_400 * 3, 3600 * 6)])
            return moment * 1000 + r.choice([0, 0, r.randint(0, 999)])
        return r.randint(START, END) * 1000
    if roll < 0.92:
        year, month = r.randint(1970, 2099), r.randint(1, 12)
        edge = datetime(year, month, 1, tzinfo=resolve_zone(tz_name)) - timedelta(
            seconds=r.randint(1, 200_000)
        )
        return to_epoch_ms(edge)
    if roll < 0.95:
        return r.randint(END - 86_400 * 400, END) * 1000
    if roll < 0.98:  # around Quartz's own MAX_YEAR (clock year + 100), past flowyard's 2099
        return (
            int(
                datetime(r.randint(2120, 2135), 1, 1, tzinfo=UTC).timestamp()
                - r.randint(-9_000_000, 9_000_000)
            )
            * 1000
        )
    return r.randint(START - 86_400 * 365 * 5, START) * 1000  # a few starts just before 1970


def generate_cases(seed: int, n: int) -> list[Case]:
    r = random.Random(seed)
    cases = []
    for _ in range(n):
        expr = generate_expression(r)
        tz = r.choice(ZONES * 3 + EXTRA_ZONES)
        after = generate_after(r, tz if tz in ZONES else "UTC")
        if "W" in expr.upper():
            after -= after % 1000  # documented exclusion: see the module docstring
        cases.append(Case(expr, tz, after))
    return cases


CURATED = [
    "0 30 2 * * ?", "0 0 2 * * ?", "0 0 0 * * ?", "0 0/30 * * * ?", "0 0 * * * ?", "0 15 1-3 * * ?",
    "0 0 0 ? * 1#1", "0 0 0 ? * 6L", "0 0 0 LW * ?", "0 0 0 L * ?", "0 0 0 L-3 * ?", "0 0 0 15W * ?",
    "0 30 2 L-2W * ?", "0 0 2 1W * ?", "0 45 23 ? * SUN", "0 0 12 29 2 ?", "0 0 0 31 * ?", "0 30 0 ? * 7#2",
    "*/20 * 2 * * ?", "59 59 1 * * ?", "0 0 1,2,3 ? * MON-FRI", "0 0 0 30 2 ?", "0 0 0 * * ? 2098-2101",
]  # fmt: skip


def curated_cases(seed: int) -> list[Case]:
    """Schedules that fire near DST transitions, started around every transition of a few years."""
    r = random.Random(seed)
    cases = []
    for tz in ZONES:
        for year in (1975, 1988, 1991, 2008, 2016, 2017, 2018, 2019, 2024, 2037, 2038, 2050, 2099):
            for moment in _transitions(tz, year):
                for expr in r.sample(CURATED, 6):
                    after = (moment - r.randint(0, 86_400 * 2)) * 1000
                    cases.append(Case(expr, tz, after))
    return cases


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------
def _report(problems: list[str], total: int) -> str:
    shown = "\n".join(problems[:25])
    return f"{len(problems)} of {total} cases differ from Quartz 2.3.2 (seed {SEED}):\n{shown}"


def test_generated_expressions_match_quartz(quartz: Quartz) -> None:
    started = time.monotonic()
    cases = generate_cases(SEED, GENERATED_CASES)
    problems = compare(cases, quartz)
    assert not problems, _report(problems, len(cases))
    assert time.monotonic() - started < 120


def test_dst_transitions_match_quartz(quartz: Quartz) -> None:
    cases = curated_cases(SEED)
    assert len(cases) > 300
    problems = compare(cases, quartz)
    assert not problems, _report(problems, len(cases))


def test_generator_covers_every_feature() -> None:
    """Guards the generator itself: every feature must occur in accepted expressions."""
    accepted = []
    for case in generate_cases(SEED, GENERATED_CASES):
        with contextlib.suppress(CronError):
            accepted.append((parse_cron_with_max_year(case.expr, 2126), case.expr.upper().split()))
    assert len(accepted) > GENERATED_CASES // 2
    fields = [f for cron, _ in accepted for f in [cron.fields]]
    tokens = [tok for _, toks in accepted for tok in toks]
    assert sum(f.last_day_of_month and not f.nearest_weekday for f in fields) > 20
    assert sum(f.last_day_of_month and f.nearest_weekday for f in fields) > 20
    assert sum(f.last_day_offset > 0 for f in fields) > 20
    assert sum(f.nearest_weekday and not f.last_day_of_month for f in fields) > 20
    assert sum(f.last_day_of_week for f in fields) > 20
    assert sum(f.nth_day_of_week > 0 for f in fields) > 20
    for needle in ("/", "-", ",", "*", "?", "JAN", "MON", "#"):
        assert sum(needle in tok for tok in tokens) > 20, needle
    assert sum(len(toks) >= 7 for _, toks in accepted) > 200
