"""The payee check in the console: the upload's box, the batch page's state and counts, the flagged lines, the
button (GESTIONNAIRE yes, SUPERVISEUR no), in French and English.

The sandbox's account lookup answers by the number's last three digits: 901 has no account (404), 907 an account
that is blocked (with a holder's name), any other an active account named ``Abonné <last three digits>``.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.disbursements.models import BulkBatch, BulkLine
from cauri.identity.audit import AuditEvent
from cauri.web.batch_views import payee_flag, provider_name_differs
from tests.web.support import batch_id_of, logged_in, new_browser, submit, text_of, upload_file
from tests.web.test_console_batches import HEADER, act, api_batch, team, wait_final

PAYEES = (
    HEADER
    + "MSISDN;+221 77 000 01 00;XOF;10 000;Awa Ndiaye\r\n"
    + "MSISDN;+221 77 000 09 01;XOF;20 000;Omar Ba\r\n"
    + "MSISDN;+221 77 000 09 07;XOF;30 000;Khady Sarr\r\n"
    + "MSISDN;+221 77 000 02 00;XOF;40 000;Modou Faye\r\n"
).encode()
_ROW = re.compile(r"<tr>(.*?)</tr>", re.S)


async def wait_payees_checked(browser: httpx.AsyncClient, batch_id: str, within: float = 30) -> dict[str, Any]:
    """The console's status JSON (what the page polls) until the check is done."""
    deadline = time.monotonic() + within
    while True:
        answer = await browser.get(f"/console/batches/{batch_id}/payee-check", headers={"Accept": "application/json"})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if body["payee_check"] == "done":
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


def rows_of(page: httpx.Response) -> dict[str, str]:
    """The lines table's rows as text, by the payee's name in the file."""
    rows: dict[str, str] = {}
    for raw in _ROW.findall(page.text.split('data-testid="lines"', 1)[1]):
        text = re.sub(r"[\s\u00a0\u202f]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", raw))).strip()
        for name in ("Awa Ndiaye", "Omar Ba", "Khady Sarr", "Modou Faye"):
            if name in text:
                rows[name] = text
    return rows


async def test_upload_with_the_payee_check_shows_the_counts_and_flags_the_lines(
    app: FastAPI, browser: httpx.AsyncClient, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    await logged_in(browser, people.maker.email, people.maker.password)
    form = await browser.get("/console/batches/new")
    assert '<label for="check_payees">' in form.text
    assert "Vérifier les bénéficiaires auprès de l'opérateur avant l'approbation" in text_of(form)

    answer = await upload_file(browser, "paie.csv", PAYEES, check_payees=True)
    batch_id = batch_id_of(answer)
    first = await browser.get(answer.headers["location"])
    assert "Vérification des bénéficiaires" in text_of(first)
    progress = await wait_payees_checked(browser, batch_id)
    assert progress == {"payee_check": "done", "payees_checked": 4, "payees_flagged": 2}

    page = await browser.get(f"/console/batches/{batch_id}")
    text = text_of(page)
    assert "Vérification des bénéficiaires : 4 vérifiés, 2 signalés." in text
    assert "data-payee-check " not in page.text  # done: the page no longer polls
    rows = rows_of(page)
    assert "Signalé : Bénéficiaire inconnu de l'opérateur" in rows["Omar Ba"]
    assert "Signalé : Compte inactif ou bloqué chez l'opérateur" in rows["Khady Sarr"]
    assert "Nom chez l'opérateur : Abonné 907" in rows["Khady Sarr"]
    assert "Signalé" not in rows["Awa Ndiaye"] and "Signalé" not in rows["Modou Faye"]
    assert "Nom chez l'opérateur : Abonné 100" in rows["Awa Ndiaye"]  # the provider's name differs from the file's
    assert page.text.count('class="flag" data-testid="payee-flag"') == 2  # flagged in words, not colour only

    flagged = await browser.get(f"/console/batches/{batch_id}?payee=flagged")
    assert sorted(rows_of(flagged)) == ["Khady Sarr", "Omar Ba"]
    assert f'href="/console/batches/{batch_id}?payee=flagged#lines-title"' in page.text
    assert "Voir les lignes signalées (2)" in text

    batch = await api_batch(client, people.maker, batch_id)
    assert (batch["payee_check"], batch["payees_checked"], batch["payees_flagged"]) == ("done", 4, 2)

    english = await browser.get(f"/console/batches/{batch_id}", headers={"Accept-Language": "en"})
    english_rows = rows_of(english)
    assert "Payee check: 4 checked, 2 flagged." in text_of(english)
    assert "Flagged: Payee unknown to the provider" in english_rows["Omar Ba"]
    assert "Flagged: Account inactive or blocked at the provider" in english_rows["Khady Sarr"]
    assert "Name at the provider: Abonné 907" in english_rows["Khady Sarr"]
    switched = await submit(browser, page, "/console/language", {"lang": "en", "next": "/console/batches/new"})
    assert switched.status_code == 303
    english_form = text_of(await browser.get("/console/batches/new"))
    assert "Check payees with the provider before approval" in english_form


async def test_the_check_button_for_a_manager_not_for_a_supervisor(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    async with new_browser(app) as maker:
        await logged_in(maker, people.maker.email, people.maker.password)
        batch_id = batch_id_of(await upload_file(maker, "paie.csv", PAYEES))
        page = await maker.get(f"/console/batches/{batch_id}")
        assert f'action="/console/batches/{batch_id}/payee-check"' in page.text
        assert 'data-testid="payee-check"' not in page.text  # not requested: no check section
        assert (await api_batch(client, people.maker, batch_id))["payee_check"] == "not_requested"

    async with new_browser(app) as supervisor:
        await logged_in(supervisor, people.supervisor.email, people.supervisor.password)
        page = await supervisor.get(f"/console/batches/{batch_id}")
        assert f"/console/batches/{batch_id}/payee-check" not in page.text
        refused = await submit(supervisor, page, f"/console/batches/{batch_id}/payee-check")
        assert refused.status_code == 403
        assert (await api_batch(client, people.maker, batch_id))["payee_check"] == "not_requested"
        readable = await supervisor.get(
            f"/console/batches/{batch_id}/payee-check", headers={"Accept": "application/json"}
        )
        assert readable.json() == {"payee_check": "not_requested", "payees_checked": 0, "payees_flagged": 0}

    async with new_browser(app) as maker:
        await logged_in(maker, people.maker.email, people.maker.password)
        started = await act(maker, batch_id, "payee-check")
        assert started.headers["location"] == f"/console/batches/{batch_id}?done=payee-check"
        assert "Vérification des bénéficiaires lancée" in text_of(await maker.get(started.headers["location"]))
        await wait_payees_checked(maker, batch_id)
        page = await maker.get(f"/console/batches/{batch_id}")
        assert "Vérification des bénéficiaires : 4 vérifiés, 2 signalés." in text_of(page)
        assert "Vérifier de nouveau les bénéficiaires" in text_of(page)
        async with unit_of_work(sessionmaker) as session:
            audited = (
                await session.execute(
                    select(AuditEvent.actor_user_id).where(
                        AuditEvent.action == "bulk.payee_check", AuditEvent.target_id == batch_id
                    )
                )
            ).all()
        assert len(audited) == 1

        # While the check runs the page shows its progress and polls; no second button.
        async with unit_of_work(sessionmaker) as session:
            await session.execute(
                update(BulkBatch)
                .where(BulkBatch.id == uuid.UUID(batch_id))
                .values(payee_check="running", payees_checked=1, payees_flagged=0)
            )
        running = await maker.get(f"/console/batches/{batch_id}", headers={"Accept-Language": "en"})
        assert "Payee check in progress: 1 of 4 checked, 0 flagged." in text_of(running)
        assert f'data-payee-check data-status-url="/console/batches/{batch_id}/payee-check"' in running.text
        assert f'action="/console/batches/{batch_id}/payee-check"' not in running.text
        async with unit_of_work(sessionmaker) as session:
            await session.execute(
                update(BulkBatch)
                .where(BulkBatch.id == uuid.UUID(batch_id))
                .values(payee_check="done", payees_checked=4, payees_flagged=2)
            )

        await act(maker, batch_id, "submit")
    async with new_browser(app) as checker:
        await logged_in(checker, people.checker.email, people.checker.password)
        page = await checker.get(f"/console/batches/{batch_id}")
        assert f"/console/batches/{batch_id}/payee-check" in page.text  # still before approval
        await act(checker, batch_id, "approve")
        await wait_final(checker, batch_id)
        page = await checker.get(f"/console/batches/{batch_id}")
        assert f"/console/batches/{batch_id}/payee-check" not in page.text
        refused = await submit(checker, page, f"/console/batches/{batch_id}/payee-check")
        assert refused.status_code == 409
        assert "Impossible de vérifier les bénéficiaires pour un lot" in text_of(refused)


def test_flags_and_names_worth_showing() -> None:
    line = BulkLine(payee_name="Aminata Diallo", payee_status="active", payee_provider_name="DIALLO  Aminata")
    assert payee_flag(line) is None and not provider_name_differs(line)
    line = BulkLine(payee_name="Aminata Diallo", payee_status="active", payee_provider_name="Aminata Diallo Ba")
    assert provider_name_differs(line)
    line = BulkLine(payee_name="Élodie Koné", payee_status="active", payee_provider_name="ELODIE KONE")
    assert not provider_name_differs(line)
    assert provider_name_differs(BulkLine(payee_name=None, payee_status="active", payee_provider_name="Awa"))
    assert payee_flag(BulkLine(payee_status="inactive", payee_provider_name=None)) == "line.payee_unknown"
    assert payee_flag(BulkLine(payee_status="inactive", payee_provider_name="Awa")) == "line.payee_inactive"
    assert payee_flag(BulkLine(payee_status="unavailable")) == "line.payee_unavailable"
    assert payee_flag(BulkLine(payee_status="unsupported")) is None
    assert payee_flag(BulkLine(payee_status=None)) is None
