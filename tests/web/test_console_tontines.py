"""The console's tontine pages over HTTP, on the demo tontine (``cauri.tontines.demo``: 12 members in Dakar, three
sessions held, the fourth open, membre10 late): a member's tontines, next due, statement and the pot's movements;
the trésorière records cash with its proof, cannot validate her own record, the présidente validates it and the
member sees it; a member cannot record, someone outside the tontine gets a 404; pay now asks the member's phone."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from cauri.core.db import unit_of_work
from cauri.identity.models import User
from cauri.identity.seeding import DEMO_PASSWORD
from cauri.tontines import demo
from cauri.tontines.models import SessionStatus, Tontine, TontineSession
from tests.support.identity import Actor, add_member, login
from tests.tontines.support import PNG
from tests.web.support import logged_in, new_browser, submit, text_of

TREASURER = "tresoriere@kobiri.demo.cauri.africa"
PRESIDENT = "presidente@kobiri.demo.cauri.africa"
OPERATOR = "operateur@kobiri.demo.cauri.africa"
MEMBER = "membre01@kobiri.demo.cauri.africa"
OTHER_MEMBER = "membre02@kobiri.demo.cauri.africa"


@dataclass(frozen=True)
class DemoTontine:
    organization_id: uuid.UUID
    tontine_id: uuid.UUID
    open_session_id: uuid.UUID


@pytest.fixture(scope="module")
async def kobiri(app: FastAPI) -> DemoTontine:
    """The demo tontine, seeded once into the console's database (idempotent)."""
    async with unit_of_work(app.state.sessionmaker) as session:
        summary = await demo.seed(session, app.state.settings)
    async with app.state.sessionmaker() as session:
        tontine = await session.scalar(
            select(Tontine).where(Tontine.organization_id == summary.organization_id, Tontine.name == demo.DEMO_TONTINE)
        )
        assert tontine is not None
        opened = await session.scalar(
            select(TontineSession.id).where(
                TontineSession.tontine_id == tontine.id, TontineSession.status == SessionStatus.OPEN
            )
        )
    assert opened is not None
    return DemoTontine(summary.organization_id, tontine.id, opened)


def board_url(kobiri: DemoTontine) -> str:
    return f"/console/tontines/{kobiri.tontine_id}/sessions/{kobiri.open_session_id}"


async def member_id_of(app: FastAPI, kobiri: DemoTontine, email: str) -> str:
    page_text = ""
    async with new_browser(app) as treasurer:
        await logged_in(treasurer, TREASURER, DEMO_PASSWORD)
        page = await treasurer.get(board_url(kobiri))
        page_text = page.text
    async with app.state.sessionmaker() as session:
        name = await session.scalar(select(User.full_name).where(User.email == email))
    match = re.search(
        r'data-member="' + re.escape(str(name)) + r'".*?name="member_id" value="([0-9a-f-]{36})"', page_text, re.S
    )
    assert match, f"no cash form for {name}"
    return match.group(1)


async def test_member_sees_next_due_statement_movements_and_schedule(
    app: FastAPI, kobiri: DemoTontine, browser: httpx.AsyncClient
) -> None:
    anonymous = await browser.get("/console/tontines")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/console/login")

    home = await logged_in(browser, "membre10@kobiri.demo.cauri.africa", DEMO_PASSWORD)
    assert 'href="/console/tontines"' in home.text  # the menu links members to their tontines
    listing = await browser.get("/console/tontines")
    assert listing.status_code == 200
    words = text_of(listing)
    assert demo.DEMO_TONTINE in words
    assert "10 000 F CFA à payer pour la séance 3" in words and "en retard" in words  # the late member's due

    page = await browser.get(f"/console/tontines/{kobiri.tontine_id}")
    assert page.status_code == 200
    words = text_of(page)
    assert "Mon relevé" in words and "Mouvements de la caisse" in words and "Ordre de passage" in words
    assert "Cotisation en espèces" in words  # the pot's movements, every member sees them
    assert 'action="/console/tontines/' in page.text and "Payer maintenant par mobile money" in words
    assert "Encaisser en espèces" not in (await browser.get(board_url(kobiri))).text  # a member's board is read only

    english = await browser.get(f"/console/tontines/{kobiri.tontine_id}", headers={"Accept-Language": "en"})
    assert "My statement" in text_of(english) and "The pot's movements" in text_of(english)

    csv = await browser.get(f"/console/tontines/{kobiri.tontine_id}/statement.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")


async def test_cash_recorded_with_proof_validated_by_another_manager_seen_by_the_member(
    app: FastAPI, kobiri: DemoTontine
) -> None:
    member_id = await member_id_of(app, kobiri, MEMBER)
    async with new_browser(app) as treasurer, new_browser(app) as president, new_browser(app) as member:
        await logged_in(treasurer, TREASURER, DEMO_PASSWORD)
        board = await treasurer.get(board_url(kobiri))
        assert "Encaisser en espèces" in text_of(board)

        # No proof: refused, the field named, nothing recorded.
        refused = await submit(
            treasurer, board, f"{board_url(kobiri)}/cash", {"member_id": member_id, "amount": "10000"}
        )
        assert refused.status_code == 422, text_of(refused)
        assert "Joignez la preuve" in text_of(refused)

        fields = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', board.text).group(1)}  # type: ignore[union-attr]
        recorded = await treasurer.post(
            f"{board_url(kobiri)}/cash",
            data={**fields, "member_id": member_id, "amount": "10000"},
            files={"proof": ("recu.png", PNG, "image/png")},
            headers={"Origin": "http://testserver"},
        )
        assert recorded.status_code == 303, text_of(recorded)
        board = await treasurer.get(recorded.headers["location"])
        words = text_of(board)
        assert "Paiement en espèces enregistré" in words
        assert "un autre responsable doit le valider" in words  # her own record: no button for her
        contribution = re.search(r"/contributions/([0-9a-f-]{36})/proof", board.text)
        assert contribution, "the proof is linked"
        proof = await treasurer.get(f"/console/tontines/{kobiri.tontine_id}{contribution.group(0)}")
        assert proof.status_code == 200 and proof.content == PNG
        check = f"/console/tontines/{kobiri.tontine_id}/contributions/{contribution.group(1)}/check"
        forged = await submit(treasurer, board, check, {"decision": "validate"})
        assert forged.status_code == 403, text_of(forged)  # the recorder cannot validate her own record

        # A member cannot record cash.
        await logged_in(member, OTHER_MEMBER, DEMO_PASSWORD)
        member_board = await member.get(board_url(kobiri))
        not_a_manager = await member.post(
            f"{board_url(kobiri)}/cash",
            data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', member_board.text).group(1),  # type: ignore[union-attr]
                  "member_id": member_id, "amount": "10000"},
            files={"proof": ("recu.png", PNG, "image/png")},
            headers={"Origin": "http://testserver"},
        )  # fmt: skip
        assert not_a_manager.status_code == 403, text_of(not_a_manager)

        await logged_in(president, PRESIDENT, DEMO_PASSWORD)
        president_board = await president.get(board_url(kobiri))
        assert "Valider" in text_of(president_board)
        validated = await submit(president, president_board, check, {"decision": "validate"})
        assert validated.status_code == 303, text_of(validated)
        assert "la caisse est créditée" in text_of(await president.get(validated.headers["location"]))
        again = await submit(president, president_board, check, {"decision": "validate"})
        assert again.status_code == 409, text_of(again)  # validated once: one ledger transfer

    async with new_browser(app) as member:
        await logged_in(member, MEMBER, DEMO_PASSWORD)
        page = await member.get(f"/console/tontines/{kobiri.tontine_id}")
        words = text_of(page)
        assert "Vous êtes à jour." in words
        statement = page.text.split('data-testid="statement"')[1].split("</table>")[0]
        assert text_of(httpx.Response(200, text=statement)).count("10 000 F CFA") == 8  # 4 sessions: expected, paid


async def test_outsider_gets_404_and_pay_now_asks_the_phone(
    app: FastAPI, kobiri: DemoTontine, client: httpx.AsyncClient
) -> None:
    tokens = await login(client, email=OPERATOR, password=DEMO_PASSWORD)
    async with app.state.sessionmaker() as session:
        operator_id = await session.scalar(select(User.id).where(User.email == OPERATOR))
    assert operator_id is not None
    operator = Actor(
        operator_id,
        kobiri.organization_id,
        OPERATOR,
        DEMO_PASSWORD,
        tokens["access_token"],
        tokens["refresh_token"],
        "owner",
    )
    outsider = await add_member(client, operator, role="member")
    async with new_browser(app) as stranger:
        await logged_in(stranger, outsider.email, outsider.password)
        assert "Demandez son code" in text_of(await stranger.get("/console/tontines"))
        assert (await stranger.get(f"/console/tontines/{kobiri.tontine_id}")).status_code == 404
        assert (await stranger.get(board_url(kobiri))).status_code == 404

    async with new_browser(app) as member:
        await logged_in(member, "membre03@kobiri.demo.cauri.africa", DEMO_PASSWORD)
        page = await member.get(f"/console/tontines/{kobiri.tontine_id}")
        session_id = re.search(r'name="session_id" value="([0-9a-f-]{36})"', page.text)
        assert session_id and session_id.group(1) == str(kobiri.open_session_id)
        wrong = await submit(
            member, page, f"/console/tontines/{kobiri.tontine_id}/pay",
            {"session_id": session_id.group(1), "amount": "999999", "phone": "+221770000100"},
        )  # fmt: skip
        assert wrong.status_code == 422 and "dépasse ce qui est dû" in text_of(wrong)
        asked = await submit(
            member, page, f"/console/tontines/{kobiri.tontine_id}/pay",
            {"session_id": session_id.group(1), "amount": "10000", "phone": "+221770000100"},
        )  # fmt: skip
        assert asked.status_code == 303, text_of(asked)
        after = text_of(await member.get(asked.headers["location"]))
        assert "Demande envoyée" in after
