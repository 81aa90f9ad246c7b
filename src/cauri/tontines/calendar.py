"""The calendar a tontine's frequency generates from its start date.

``bimensuel`` is twice a month, on two days fifteen days apart at most: the start day ``a`` and ``a + 14`` (a start
on the 1st gives the 1st and the 15th; a start on the 20th gives the 6th and the 20th), never every two months.
Monthly and quarterly dates keep the start day, clamped to the month's last day (the 31st gives 28 or 29 in February).
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterator
from datetime import date, timedelta

from cauri.tontines.models import Frequency


def _add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    last = _calendar.monthrange(year, month)[1]
    return date(year, month, min(start.day, last))


def _twice_monthly(start: date) -> Iterator[date]:
    first_day = start.day if start.day <= 14 else start.day - 14
    month = date(start.year, start.month, 1)
    while True:
        for day in (first_day, first_day + 14):
            candidate = month.replace(day=day)
            if candidate >= start:
                yield candidate
        month = _add_months(month, 1)


def dates(start: date, frequency: str, count: int) -> list[date]:
    """The first ``count`` due dates from ``start`` (``start`` is the first)."""
    freq = Frequency(frequency)
    if freq is Frequency.BIMENSUEL:
        generator = _twice_monthly(start)
        return [next(generator) for _ in range(count)]
    if freq is Frequency.QUOTIDIEN:
        return [start + timedelta(days=i) for i in range(count)]
    if freq is Frequency.HEBDOMADAIRE:
        return [start + timedelta(weeks=i) for i in range(count)]
    step = 1 if freq is Frequency.MENSUEL else 3
    return [_add_months(start, i * step) for i in range(count)]


def nth(start: date, frequency: str, number: int) -> date:
    """The due date of session ``number`` (1-based)."""
    return dates(start, frequency, number)[-1]
