"""Schedule expressions as EventBridge (Scheduler) evaluates them, and a clock that can run fast.

    schedule = Schedule.parse("cron(0 8 ? * MON-FRI *)", timezone="Europe/Paris")
    schedule.next_after(time.time())        # epoch seconds of the next run
    clock = ScheduleClock(speed=60)         # a minute passes in a second
    clock.now(); clock.real_delay(target)

rate(N minute|minutes|hour|hours|day|days): every N units, counted from when the schedule was
created (here: when the runtime started).

cron(minutes hours day-of-month month day-of-week year), AWS flavour: six fields; `*`, `?`,
lists (`,`), ranges (`-`), steps (`/`), month names (JAN-DEC), day names (SUN-SAT; 1 = Sunday),
and `L` (last day of the month) in day-of-month. One of day-of-month/day-of-week must be `?`.
Not evaluated: `W` (nearest weekday), `L` in day-of-week and `#` (nth weekday): such a schedule
raises UnsupportedSchedule (the runtime then only runs it by `tick`).
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((.+)\)")
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}  # JAN=1
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
# Field order and ranges of an AWS cron expression.
_FIELDS = (("minutes", 0, 59), ("hours", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 1, 7))
_SEARCH_LIMIT = 200_000  # jumps; enough for any expression that fires within a few years


class UnsupportedSchedule(ValueError):
    """A valid AWS expression the local runtime does not evaluate (see the module docstring)."""


def _values(text: str, name: str, low: int, high: int) -> frozenset[int]:
    names = _MONTHS if name == "month" else _DAYS if name == "day-of-week" else {}
    out: set[int] = set()
    for part in text.upper().split(","):
        if any(c in part for c in "W#") or (part.endswith("L") and name == "day-of-week"):
            raise UnsupportedSchedule(f"{name} {part!r}: W, # and L in day-of-week are not evaluated locally")
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = int(names.get(first, first)), int(names.get(last, last))
        else:
            start = int(names.get(base, base))
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ValueError(f"cron {name} {part!r} is out of range {low}-{high}")
        if start <= end:
            out.update(range(start, end + 1, step))
        else:  # a range that wraps (FRI-MON, 22-2)
            out.update(v for i, v in enumerate([*range(start, high + 1), *range(low, end + 1)]) if i % step == 0)
    return frozenset(out)


@dataclass(frozen=True)
class Schedule:
    expression: str
    period: float | None = None  # rate(): seconds between runs
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] | None = None  # None: day-of-month is "?"
    last_day: bool = False  # day-of-month "L"
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] | None = None  # AWS numbering, 1 = Sunday; None: "?"
    years: frozenset[int] | None = None  # None: any year
    timezone: str = "UTC"

    @classmethod
    def parse(cls, expression: str, timezone: str | None = None) -> Schedule:
        expression = expression.strip()
        rate = _RATE.fullmatch(expression)
        if rate:
            unit = {"minute": 60, "hour": 3600, "day": 86400}[rate.group(2).rstrip("s")]
            return cls(expression, period=int(rate.group(1)) * unit)
        cron = _CRON.fullmatch(expression)
        if not cron:
            raise ValueError(f"not a schedule expression: {expression!r}")
        fields = cron.group(1).split()
        if len(fields) != 6:
            raise ValueError(f"cron() takes 6 fields (minutes hours day-of-month month day-of-week year): {expression}")
        minutes, hours, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ValueError(f"cron(): exactly one of day-of-month and day-of-week must be '?': {expression}")
        last_day = dom.upper() == "L"
        days = None if dom == "?" or last_day else _values(dom, "day-of-month", 1, 31)
        weekdays = None if dow == "?" else _values(dow, "day-of-week", 1, 7)
        years = None if year in ("*", "?") else _values(year, "year", 1970, 2199)
        return cls(
            expression,
            minutes=_values(minutes, "minutes", 0, 59),
            hours=_values(hours, "hours", 0, 23),
            days=days,
            last_day=last_day,
            months=_values(month, "month", 1, 12),
            weekdays=weekdays,
            years=years,
            timezone=timezone or "UTC",
        )

    def _day_matches(self, day: datetime) -> bool:
        if self.last_day:
            return day.day == calendar.monthrange(day.year, day.month)[1]
        if self.days is not None:
            return day.day in self.days
        assert self.weekdays is not None
        return (day.weekday() + 1) % 7 + 1 in self.weekdays  # Python Monday=0 -> AWS Monday=2

    def next_after(self, after: float, start: float | None = None) -> float | None:
        """Epoch seconds of the first run strictly after `after` (rate(): counted from `start`)."""
        if self.period is not None:
            origin = after if start is None else start
            runs = int((after - origin) // self.period) + 1
            return origin + runs * self.period
        zone = ZoneInfo(self.timezone)
        # Walk wall-clock time in the schedule's timezone, jumping over whole years/months/days/hours.
        t = datetime.fromtimestamp(after, zone).replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(_SEARCH_LIMIT):
            if self.years is not None and t.year not in self.years:
                if t.year > max(self.years):
                    return None
                t = datetime(t.year + 1, 1, 1)
            elif t.month not in self.months:
                t = datetime(t.year + t.month // 12, t.month % 12 + 1, 1)
            elif not self._day_matches(t):
                t = datetime(t.year, t.month, t.day) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = datetime(t.year, t.month, t.day, t.hour) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t.replace(tzinfo=zone).timestamp()
        return None


class ScheduleClock:
    """The schedules' clock: real time, or `speed` times faster from the moment it was created."""

    def __init__(self, speed: float = 1.0, origin: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("schedule speed must be > 0")
        self.speed = speed
        self.origin = time.time() if origin is None else origin

    def now(self) -> float:
        return self.origin + (time.time() - self.origin) * self.speed

    def real_delay(self, target: float) -> float:
        """Real seconds until the clock reads `target`."""
        return max(0.0, (target - self.now()) / self.speed)

    @staticmethod
    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
