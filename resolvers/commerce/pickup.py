"""When a click & collect order can be picked up: after the store has had time to set it
aside, within its opening hours.

Computed from the order's time and the store's hours rather than stored anywhere, so
every read of the order (and a replay of the placing) tells the same time.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

#: time the store needs to pick the goods off the shelf and set them aside
PREPARATION = timedelta(hours=2)
STORE_TIME = ZoneInfo("Europe/Amsterdam")
DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_RULE = re.compile(r"^(\w\w)(?:-(\w\w))? (\d\d):(\d\d)-(\d\d):(\d\d)$")

Hours = dict[int, tuple[time, time]]  # weekday -> (opens, closes)


def opening_hours(text: str | None) -> Hours:
    """``Mo-Sa 09:00-18:00; Su 12:00-17:00`` (OpenStreetMap style) per weekday; rules
    that do not read are left out."""
    hours: Hours = {}
    for rule in (text or "").split(";"):
        match = _RULE.match(rule.strip())
        if not match or match[1] not in DAYS or (match[2] or match[1]) not in DAYS:
            continue
        first, last = DAYS.index(match[1]), DAYS.index(match[2] or match[1])
        opens = time(int(match[3]), int(match[4]))
        closes = time(int(match[5]), int(match[6]))
        for day in range(first, last + 1):
            hours[day] = (opens, closes)
    return hours


def ready_at(placed_at: datetime, hours_text: str | None) -> datetime:
    """The first moment ``PREPARATION`` after the order at which the store is open; the
    store's own time zone. A store without readable hours is taken to be always open."""
    earliest = (placed_at + PREPARATION).astimezone(STORE_TIME)
    hours = opening_hours(hours_text)
    if not hours:
        return earliest
    for offset in range(8):
        day = earliest.date() + timedelta(days=offset)
        if day.weekday() not in hours:
            continue
        opens, closes = hours[day.weekday()]
        start = datetime.combine(day, opens, STORE_TIME)
        end = datetime.combine(day, closes, STORE_TIME)
        candidate = max(start, earliest)
        if candidate <= end:
            return candidate
    return earliest
