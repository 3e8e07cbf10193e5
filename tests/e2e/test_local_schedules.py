"""Schedule expressions of the local runtime (devtools.local.schedules): pure, no runtime started."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devtools.local.schedules import Schedule, ScheduleClock, UnsupportedSchedule


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(value: float | None) -> str:
    assert value is not None
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(30 3 * * ? *)", "2026-03-10 03:29:59", "2026-03-10 03:30"),
        ("cron(30 3 * * ? *)", "2026-03-10 03:30:00", "2026-03-11 03:30"),  # strictly after
        ("cron(0/15 * * * ? *)", "2026-03-10 10:16:00", "2026-03-10 10:30"),
        ("cron(0 8 ? * MON-FRI *)", "2026-03-13 09:00:00", "2026-03-16 08:00"),  # Friday -> Monday
        ("cron(0 8 ? * 1 *)", "2026-03-10 00:00:00", "2026-03-15 08:00"),  # 1 = Sunday
        ("cron(0 0 L * ? *)", "2026-02-03 00:00:00", "2026-02-28 00:00"),  # last day of the month
        ("cron(0 12 1 JAN,JUL ? *)", "2026-03-10 00:00:00", "2026-07-01 12:00"),
        ("cron(0 22-2/2 * * ? *)", "2026-03-10 23:00:00", "2026-03-11 00:00"),  # wrapping range
        ("cron(0 0 29 2 ? 2027-2030)", "2026-01-01 00:00:00", "2028-02-29 00:00"),
    ],
)
def test_cron_next_run(expression, after, expected):
    assert iso(Schedule.parse(expression).next_after(ts(after))) == expected


def test_cron_in_a_timezone_fires_at_local_wall_clock_time():
    paris = Schedule.parse("cron(0 9 * * ? *)", timezone="Europe/Paris")
    assert iso(paris.next_after(ts("2026-01-15 00:00:00"))) == "2026-01-15 08:00"  # CET = UTC+1
    assert iso(paris.next_after(ts("2026-07-15 00:00:00"))) == "2026-07-15 07:00"  # CEST = UTC+2


def test_rate_counts_from_the_start_and_cron_past_its_last_year_never_runs():
    rate = Schedule.parse("rate(5 minutes)")
    assert rate.period == 300
    assert rate.next_after(1000.0, start=100.0) == 1300.0  # runs at 400, 700, 1000, 1300: strictly after
    assert Schedule.parse("cron(0 0 1 1 ? 2020)").next_after(ts("2026-01-01 00:00:00")) is None


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("cron(0 8 * * * *)", ValueError),  # neither day field is "?"
        ("cron(0 8 * *)", ValueError),
        ("cron(61 8 * * ? *)", ValueError),
        ("cron(0 8 ? * 2#1 *)", UnsupportedSchedule),
        ("cron(0 8 15W * ? *)", UnsupportedSchedule),
        ("every day", ValueError),
    ],
)
def test_invalid_or_unsupported_expressions_are_refused(expression, error):
    with pytest.raises(error):
        Schedule.parse(expression)


def test_sped_up_clock_passes_speed_times_faster():
    clock = ScheduleClock(speed=60, origin=1000.0)
    now = clock.now()
    assert clock.real_delay(now + 120) == pytest.approx(2.0, abs=0.05)
    with pytest.raises(ValueError):
        ScheduleClock(speed=0)
