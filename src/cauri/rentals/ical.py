"""iCalendar (RFC 5545), the small part calendar sync needs: write a feed of busy nights, read other feeds' events.

Written by hand rather than with a library: a feed is a few all-day ``VEVENT`` s, and reading one only needs
``DTSTART``/``DTEND`` (or ``DURATION``), ``UID`` and ``STATUS`` — what Airbnb, Booking.com and VRBO export. The
reader is strict about structure (a feed that is not a ``VCALENDAR``, unbalanced ``BEGIN``/``END``, an event
without a start, a date it cannot read): such a feed is refused whole, with the line at fault, so a broken
download never replaces good blocks with half of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

MAX_EVENTS: Final = 2000
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$")
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class MalformedCalendar(ValueError):
    def __init__(self, line: int, reason_fr: str, reason_en: str) -> None:
        super().__init__(f"line {line}: {reason_en}")
        self.line = line
        self.reason_fr = reason_fr
        self.reason_en = reason_en


@dataclass(frozen=True)
class BusyNights:
    """Nights ``[start, end)``: the end is the departure day."""

    start: date
    end: date
    uid: str
    summary: str = ""


# Writing


def _escape(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> Iterator[str]:
    """Lines of at most 75 octets, continued with a leading space (RFC 5545, 3.1)."""
    encoded = line.encode()
    if len(encoded) <= 75:
        yield line
        return
    chunk: list[str] = []
    size, first = 0, True
    for char in line:
        width = len(char.encode())
        if size + width > (75 if first else 74):
            yield ("" if first else " ") + "".join(chunk)
            chunk, size, first = [], 0, False
        chunk.append(char)
        size += width
    yield ("" if first else " ") + "".join(chunk)


def write_calendar(name: str, nights: Iterable[BusyNights], *, stamp: datetime) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Cauri//LokaHome rentals//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(name)}",
    ]
    for busy in nights:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{_escape(busy.uid)}",
            f"DTSTAMP:{stamp.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTSTART;VALUE=DATE:{busy.start.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{busy.end.strftime('%Y%m%d')}",
            f"SUMMARY:{_escape(busy.summary)}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(f"{folded}\r\n" for line in lines for folded in _fold(line))


# Reading


def _unfold(text: str) -> list[tuple[int, str]]:
    """Logical lines with the number of their first physical line."""
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if raw.startswith((" ", "\t")) and logical:
            first, value = logical[-1]
            logical[-1] = (first, value + raw[1:])
        elif raw.strip():
            logical.append((number, raw))
    return logical


def _split(line: str) -> tuple[str, str]:
    """``NAME;PARAM=…:value`` → (NAME, value); a colon inside a quoted parameter value does not end the name."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return line[:index].split(";", 1)[0].strip().upper(), line[index + 1 :]
    return "", ""


def _date(value: str, number: int, field: str) -> date:
    found = _DATE.match(value.strip())
    if found is None:
        raise MalformedCalendar(
            number, f"{field} illisible : « {value[:40]} ».", f"Unreadable {field}: '{value[:40]}'."
        )
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise MalformedCalendar(number, f"{field} n'est pas une date.", f"{field} is not a date.") from None


def _duration_days(value: str, number: int) -> int:
    found = _DURATION.match(value.strip().lstrip("+"))
    if found is None or not any(found.groups()):
        raise MalformedCalendar(number, "DURATION illisible.", "Unreadable DURATION.")
    weeks, days, hours = (int(part or 0) for part in found.groups()[:3])
    return max(1, weeks * 7 + days + (1 if hours else 0))


def _event(props: dict[str, tuple[int, str]], begun: int) -> BusyNights | None:
    if props.get("STATUS", (0, ""))[1].strip().upper() == "CANCELLED":
        return None
    if "DTSTART" not in props:
        raise MalformedCalendar(begun, "Événement sans DTSTART.", "Event without DTSTART.")
    start = _date(props["DTSTART"][1], props["DTSTART"][0], "DTSTART")
    if "DTEND" in props:
        end = _date(props["DTEND"][1], props["DTEND"][0], "DTEND")
    elif "DURATION" in props:
        end = start + timedelta(days=_duration_days(props["DURATION"][1], props["DURATION"][0]))
    else:
        end = start + timedelta(days=1)
    if end < start:
        raise MalformedCalendar(begun, "Événement qui finit avant de commencer.", "Event ending before it starts.")
    end = max(end, start + timedelta(days=1))  # a same-day event still takes that night
    uid = props.get("UID", (0, ""))[1].strip() or f"{start.isoformat()}/{end.isoformat()}"
    return BusyNights(start=start, end=end, uid=uid[:255], summary=props.get("SUMMARY", (0, ""))[1].strip()[:200])


def _close(stack: list[tuple[str, int]], component: str, number: int) -> int:
    """Pop ``component`` off the stack (or refuse an unbalanced END); the line where it began."""
    if not stack or stack[-1][0] != component:
        raise MalformedCalendar(number, f"END:{component} inattendu.", f"Unexpected END:{component}.")
    return stack.pop()[1]


def _add(events: list[BusyNights], found: BusyNights | None, number: int) -> None:
    if found is None:
        return
    events.append(found)
    if len(events) > MAX_EVENTS:
        raise MalformedCalendar(number, f"Plus de {MAX_EVENTS} événements.", f"More than {MAX_EVENTS} events.")


def parse_calendar(text: str) -> list[BusyNights]:
    """The busy nights of a feed's events (cancelled ones left out), or :class:`MalformedCalendar`."""
    lines = _unfold(text)
    if not lines or lines[0][1].strip().upper() != "BEGIN:VCALENDAR":
        first = lines[0][0] if lines else 1
        raise MalformedCalendar(first, "Ce n'est pas un calendrier iCalendar.", "Not an iCalendar feed.")
    stack: list[tuple[str, int]] = []
    events: list[BusyNights] = []
    props: dict[str, tuple[int, str]] = {}
    for index, (number, line) in enumerate(lines):
        name, value = _split(line)
        if not name:
            raise MalformedCalendar(number, "Ligne sans « : ».", "Line without ':'.")
        component = value.strip().upper()
        if name == "BEGIN":
            stack.append((component, number))
            props = {} if component == "VEVENT" else props
        elif name == "END":
            begun = _close(stack, component, number)
            if component == "VEVENT":
                _add(events, _event(props, begun), number)
            if not stack and index != len(lines) - 1:
                raise MalformedCalendar(
                    lines[index + 1][0], "Contenu après END:VCALENDAR.", "Content after END:VCALENDAR."
                )
        elif stack and stack[-1][0] == "VEVENT":
            props.setdefault(name, (number, value))
    if stack:
        component, number = stack[-1]
        raise MalformedCalendar(number, f"BEGIN:{component} jamais fermé.", f"BEGIN:{component} never closed.")
    return events


def merged(nights: Iterable[BusyNights]) -> list[BusyNights]:
    """Overlapping or touching ranges made one (the first one's uid), in order: blocks that never overlap."""
    result: list[BusyNights] = []
    for busy in sorted(nights, key=lambda n: (n.start, n.end)):
        if result and busy.start <= result[-1].end:
            last = result[-1]
            result[-1] = BusyNights(last.start, max(last.end, busy.end), last.uid, last.summary)
        else:
            result.append(busy)
    return result
