"""iCal: a listing's feed (unguessable token, rotated, bookings only), and imported calendars fetched by the job from
a tiny HTTP server on 127.0.0.1 — their events block nights under the no-double-booking guarantee; a malformed or
unreachable feed is a visible failure that leaves the previous blocks as they were."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.kit.testing import free_port, serve_app
from cauri.rentals import ical
from tests.rentals.conftest import Market, Member, join, published
from tests.support.waiting import until

RENTALS = "/api/v1/rentals"


def feed(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar//EN\r\n"
        + "".join(events)
        + "END:VCALENDAR\r\n"
    )


def event(uid: str, start: str, end: str, *, extra: str = "") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART;VALUE=DATE:{start}\r\nDTEND;VALUE=DATE:{end}\r\n"
        f"SUMMARY:Reserved\r\n{extra}END:VEVENT\r\n"
    )


@pytest.fixture
async def feeds() -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A calendar site on loopback: ``/<name>.ics`` answers ``served[name]``, or 404."""
    served: dict[str, str] = {}

    async def calendar(request: Request) -> Response:
        body = served.get(request.path_params["name"])
        if body is None:
            return Response("not found", status_code=404)
        return Response(body, media_type="text/calendar")

    async with serve_app(Starlette(routes=[Route("/{name}.ics", calendar)])) as url:
        yield url, served


async def _import(client: httpx.AsyncClient, landlord: Member, prop_id: str, url: str) -> dict[str, Any]:
    created = await client.post(
        f"{RENTALS}/properties/{prop_id}/calendar/imports",
        json={"url": url, "name": "Airbnb"},
        headers=landlord.headers,
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def _settled(
    client: httpx.AsyncClient, landlord: Member, prop_id: str, import_id: str, *, attempt: str | None
) -> dict[str, Any]:
    """The import once the job recorded an attempt after ``attempt`` (the job runs in the app, in the background)."""
    found: dict[str, Any] = {}

    async def attempted() -> bool:
        listed = (await client.get(f"{RENTALS}/properties/{prop_id}/calendar", headers=landlord.headers)).json()
        found.update(next(i for i in listed["imports"] if i["id"] == import_id))
        return found["last_attempt_at"] is not None and found["last_attempt_at"] != attempt

    await until(attempted, "the calendar sync job ran", within=10)
    return found


async def _busy(client: httpx.AsyncClient, market: Market, prop_id: str) -> list[tuple[str, str, str]]:
    answer = await client.get(
        f"{RENTALS}/properties/{prop_id}/availability", params={"since": "2030-01-01"}, headers=market.public
    )
    return [(b["start_date"], b["end_date"], b["status"]) for b in answer.json()["busy"]]


async def test_export_feed_token_and_content(client: httpx.AsyncClient, market: Market) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    prop = await published(client, landlord, minimum_stay=None)
    body = {"property_id": prop["id"], "start_date": "2030-07-10", "end_date": "2030-07-12"}
    assert (await client.post(f"{RENTALS}/bookings", json=body, headers=tenant.headers)).status_code == 201

    assert (
        await client.post(f"{RENTALS}/properties/{prop['id']}/calendar/export", headers=tenant.headers)
    ).status_code == 403
    first = (await client.post(f"{RENTALS}/properties/{prop['id']}/calendar/export", headers=landlord.headers)).json()
    path = httpx.URL(first["url"]).path
    exported = await client.get(path)  # no login: the token is the key
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/calendar")
    nights = ical.parse_calendar(exported.text)
    assert [(n.start.isoformat(), n.end.isoformat()) for n in nights] == [("2030-07-10", "2030-07-12")]
    assert "Kossi" not in exported.text  # no guest's name leaves

    second = (await client.post(f"{RENTALS}/properties/{prop['id']}/calendar/export", headers=landlord.headers)).json()
    assert (await client.get(path)).status_code == 404  # rotated: the old URL is dead
    assert (await client.get(httpx.URL(second["url"]).path)).status_code == 200
    guessed = await client.get(f"{RENTALS}/calendars/not-a-token.ics")
    assert guessed.status_code == 404 and guessed.json()["code"] == "rental_calendar_not_found"


async def test_imported_events_block_nights_and_failures_keep_them(
    client: httpx.AsyncClient, market: Market, feeds: tuple[str, dict[str, str]]
) -> None:
    base, served = feeds
    landlord = await join(client, market, "landlord")
    other_landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    prop = await published(client, landlord, minimum_stay=None)
    prop_id = prop["id"]
    pending = {"property_id": prop_id, "start_date": "2030-07-10", "end_date": "2030-07-12"}
    assert (await client.post(f"{RENTALS}/bookings", json=pending, headers=tenant.headers)).status_code == 201

    # Bad input: a URL that is not http(s)/webcal, someone else's listing.
    bad = await client.post(
        f"{RENTALS}/properties/{prop_id}/calendar/imports",
        json={"url": "ftp://example.org/x.ics"},
        headers=landlord.headers,
    )
    assert bad.status_code == 422 and "url" in bad.text
    theirs = await client.post(
        f"{RENTALS}/properties/{prop_id}/calendar/imports",
        json={"url": f"{base}/a.ics"},
        headers=other_landlord.headers,
    )
    assert theirs.status_code == 403

    served["a"] = feed(
        event("airbnb-1", "20300801", "20300805"),
        event("airbnb-2", "20300711", "20300713"),  # falls on the tenant's pending nights: a conflict, not a block
        event("airbnb-3", "20300901", "20300903", extra="STATUS:CANCELLED\r\n"),
        event("airbnb-old", "20200101", "20200105"),
    )
    imported = await _import(client, landlord, prop_id, f"{base}/a.ics")
    assert imported["status"] == "pending"
    synced = await _settled(client, landlord, prop_id, imported["id"], attempt=None)
    assert (synced["status"], synced["blocks"], synced["last_error"]) == ("synced", 1, None)
    assert synced["conflicts"] == [{"start_date": "2030-07-11", "end_date": "2030-07-13", "uid": "airbnb-2"}]
    assert ("2030-08-01", "2030-08-05", "blocked") in await _busy(client, market, prop_id)
    # The blocked nights cannot be booked: the same guarantee as any booking.
    taken = await client.post(
        f"{RENTALS}/bookings",
        json={"property_id": prop_id, "start_date": "2030-08-02", "end_date": "2030-08-04"},
        headers=tenant.headers,
    )
    assert taken.status_code == 409 and taken.json()["code"] == "rental_dates_unavailable"
    # Search by dates leaves the listing out.
    found = await client.get(
        f"{RENTALS}/properties",
        params={"city": "Cotonou", "available_from": "2030-08-02", "available_to": "2030-08-04"},
        headers=market.public,
    )
    assert prop_id not in [p["id"] for p in found.json()["items"]]

    # A malformed feed, then an unreachable one: a visible failure, the previous blocks untouched.
    for body, reason in (
        (feed(event("x", "20300801", "20300805")).replace("END:VEVENT\r\n", ""), "line"),
        (None, "HTTP 404"),
    ):
        if body is None:
            served.pop("a")
        else:
            served["a"] = body
        sync = await client.post(f"{RENTALS}/calendar/imports/{imported['id']}/sync", headers=landlord.headers)
        assert sync.status_code == 202
        failed = await _settled(client, landlord, prop_id, imported["id"], attempt=synced["last_attempt_at"])
        assert failed["status"] == "failed" and reason in failed["last_error"], failed
        assert failed["blocks"] == 1 and ("2030-08-01", "2030-08-05", "blocked") in await _busy(client, market, prop_id)
        synced = failed
    closed_port = await _import(client, landlord, prop_id, f"http://127.0.0.1:{free_port()}/nobody.ics")
    unreachable = await _settled(client, landlord, prop_id, closed_port["id"], attempt=None)
    assert unreachable["status"] == "failed" and "unreachable" in unreachable["last_error"]

    # The feed changes: the old block goes, the new one comes.
    served["a"] = feed(event("airbnb-4", "20301001", "20301003"))
    await client.post(f"{RENTALS}/calendar/imports/{imported['id']}/sync", headers=landlord.headers)
    moved = await _settled(client, landlord, prop_id, imported["id"], attempt=synced["last_attempt_at"])
    assert (moved["status"], moved["blocks"], moved["conflicts"]) == ("synced", 1, [])
    busy = await _busy(client, market, prop_id)
    assert ("2030-10-01", "2030-10-03", "blocked") in busy and ("2030-08-01", "2030-08-05", "blocked") not in busy

    # The listing's own feed exports bookings, not the blocks it imported.
    url = (await client.post(f"{RENTALS}/properties/{prop_id}/calendar/export", headers=landlord.headers)).json()["url"]
    exported = ical.parse_calendar((await client.get(httpx.URL(url).path)).text)
    assert [n.start.isoformat() for n in exported] == ["2030-07-10"]

    # Removing the import frees its nights.
    assert (
        await client.delete(f"{RENTALS}/calendar/imports/{imported['id']}", headers=other_landlord.headers)
    ).status_code == 404
    assert (
        await client.delete(f"{RENTALS}/calendar/imports/{imported['id']}", headers=landlord.headers)
    ).status_code == 204
    assert ("2030-10-01", "2030-10-03", "blocked") not in await _busy(client, market, prop_id)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("hello", 1),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2030\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 3),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 2),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20300101\r\nEND:VCALENDAR\r\n", 4),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20301399\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 3),
        ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", 1),
    ],
)
def test_malformed_feeds_name_their_line(text: str, line: int) -> None:
    with pytest.raises(ical.MalformedCalendar) as refused:
        ical.parse_calendar(text)
    assert refused.value.line == line


def test_folded_lines_durations_and_date_times_are_read() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a-very-long-uid-that-\r\n continues\r\n"
        "DTSTART:20300105T150000Z\r\nDURATION:P3D\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (busy,) = ical.parse_calendar(text)
    assert (busy.uid, busy.start.isoformat(), busy.end.isoformat()) == (
        "a-very-long-uid-that-continues",
        "2030-01-05",
        "2030-01-08",
    )
    long_name = "Villa " + "é" * 80
    written = ical.write_calendar(long_name, [busy], stamp=datetime(2030, 1, 1, tzinfo=UTC))
    assert all(len(line.encode()) <= 75 for line in written.split("\r\n"))
    assert ical.parse_calendar(written)[0].end == busy.end


@hypothesis_settings(max_examples=40, deadline=None)
@given(
    spans=st.lists(
        st.tuples(st.dates(min_value=date(2030, 1, 1), max_value=date(2035, 12, 31)), st.integers(1, 60)),
        max_size=12,
    ),
    name=st.text(max_size=120),
)
@example(spans=[(date(2030, 5, 1), 3)], name="Villa\r\nLomé; 2\rch.\nvue, « plage »")
def test_what_is_written_reads_back_the_same(spans: list[tuple[date, int]], name: str) -> None:
    """Any feed we write reads back as the same nights; merged blocks never overlap and cover the same nights."""
    nights = [
        ical.BusyNights(start, start + timedelta(days=n), f"uid-{i}", "Réservé") for i, (start, n) in enumerate(spans)
    ]
    written = ical.write_calendar(name, nights, stamp=datetime(2030, 1, 1, tzinfo=UTC))
    assert ical.parse_calendar(written) == nights
    blocks = ical.merged(nights)
    assert all(a.end < b.start for a, b in itertools.pairwise(blocks))

    def covered(ranges: list[ical.BusyNights]) -> set[date]:
        return {r.start + timedelta(days=d) for r in ranges for d in range((r.end - r.start).days)}

    assert covered(blocks) == covered(nights)
