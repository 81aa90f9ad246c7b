"""Bulk payment pages over HTTP: upload and report, maker–checker, roles, live progress, results and exports.

Batches are really paid: the console's app serves the embedded sandbox provider (see conftest.py).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import openpyxl
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.identity import Actor, add_member, create_org_with_user
from tests.web.support import (
    batch_id_of,
    csrf_of,
    fund,
    logged_in,
    new_browser,
    submit,
    text_of,
    upload_file,
)

HEADER = "type_id;valeur_id;devise;montant;nom\r\n"
# Line 3 repeats line 2 (same payee, same amount: to review); line 4's number and line 5's amount are wrong.
WITH_ISSUES = (
    HEADER
    + "MSISDN;+221 78 693 68 18;XOF;62 500;Aminata Diallo\r\n"
    + "MSISDN;+221 78 693 68 18;XOF;62 500;Aminata Diallo\r\n"
    + "MSISDN;12;XOF;1 000;Numéro court\r\n"
    + "MSISDN;+221 78 813 95 18;XOF;douze;Kouassi Aké\r\n"
    + "MSISDN;+221 70 323 46 26;XOF;125 000;Fatou Ndiaye\r\n"
).encode()
CLEAN = (
    HEADER
    + "MSISDN;+221 78 693 68 18;XOF;62 500;Aminata Diallo\r\n"
    + "MSISDN;+221 70 323 46 26;XOF;125 000;Fatou Ndiaye\r\n"
    + "MSISDN;+221 78 391 59 95;XOF;15 000;Awa Traoré\r\n"
).encode()
FINAL = {"COMPLETED", "PARTIALLY_COMPLETED", "FAILED", "CANCELLED"}


@dataclass(frozen=True)
class Team:
    owner: Actor
    maker: Actor
    checker: Actor
    supervisor: Actor


async def team(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], *, funds: int = 10_000_000
) -> Team:
    owner = await create_org_with_user(client)
    changed = await client.patch(
        f"/api/v1/organizations/{owner.organization_id}", json={"require_maker_checker": True}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    assert owner.organization_id is not None
    if funds:
        await fund(sessionmaker, owner.organization_id, funds)
    return Team(
        owner=owner,
        maker=await add_member(client, owner, role="gestionnaire", full_name="Moussa Diop"),
        checker=await add_member(client, owner, role="gestionnaire", full_name="Fatou Sow"),
        supervisor=await add_member(client, owner, role="superviseur", full_name="Ibrahima Fall"),
    )


async def act(browser: httpx.AsyncClient, batch_id: str, action: str) -> httpx.Response:
    """Press a button of the batch page (the form carries the page's CSRF token)."""
    page = await browser.get(f"/console/batches/{batch_id}")
    return await submit(browser, page, f"/console/batches/{batch_id}/{action}")


async def wait_final(browser: httpx.AsyncClient, batch_id: str, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        answer = await browser.get(f"/console/batches/{batch_id}/status", headers={"Accept": "application/json"})
        assert answer.status_code == 200, answer.text
        progress: dict[str, Any] = answer.json()
        if progress["state"] in FINAL:
            return progress
        assert time.monotonic() < deadline, progress
        await asyncio.sleep(0.2)


async def api_batch(client: httpx.AsyncClient, actor: Actor, batch_id: str) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/bulk-transfers/{batch_id}", headers=actor.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_the_report_lists_errors_and_warnings_with_their_place_in_the_page_language(
    app: FastAPI, browser: httpx.AsyncClient, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    await logged_in(browser, people.maker.email, people.maker.password)
    answer = await upload_file(browser, "virements.csv", WITH_ISSUES)
    batch_id = batch_id_of(answer)
    assert answer.headers["location"].endswith("?done=uploaded")
    page = await browser.get(answer.headers["location"])
    text = text_of(page)
    assert "Fichier vérifié. Lisez le rapport puis soumettez les lignes valides." in text
    assert "Brouillon" in text
    assert "Montant à payer 250 000 F CFA" in text
    assert "Lignes valides 3" in text and "Lignes en erreur 2" in text and "Lignes à vérifier 1" in text
    assert "chargé par Moussa Diop" in text
    report = (await api_batch(client, people.maker, batch_id))["report"]
    assert len(report["issues"]) == 3
    for issue in report["issues"]:
        row = f"{issue['line']} {issue['column']} {issue['message_fr']}"
        assert " ".join(row.split()) in " ".join(text.split()), row
    assert text.index("Erreurs (2 lignes non payables)") < text.index("4 valeur_id Numéro de téléphone invalide")
    assert text.index("À vérifier (1 lignes)") < text.index("3 valeur_id Même bénéficiaire et même montant")
    english = text_of(await browser.get(f"/console/batches/{batch_id}", headers={"Accept-Language": "en"}))
    for issue in report["issues"]:
        assert issue["message_en"] in english
    assert "Draft" in english and "Amount to pay 250 000 F CFA" in english
    issues_csv = await browser.get(f"/console/batches/{batch_id}/issues?format=csv")
    assert issues_csv.status_code == 200
    assert "Numéro de téléphone invalide" in issues_csv.content.decode("utf-8-sig")


async def test_a_file_that_is_not_a_payment_list_is_refused_with_the_reason(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker, funds=0)
    await logged_in(browser, people.maker.email, people.maker.password)
    refused = await upload_file(browser, "notes.csv", b"nom;age\r\nAwa;30\r\n")
    assert refused.status_code == 422
    text = text_of(refused)
    assert "Pourquoi le fichier est refusé" in text
    assert "En-têtes attendus" in text
    listed = await client.get("/api/v1/bulk-transfers", headers=people.maker.headers)
    assert listed.json()["items"] == []  # nothing stored
    no_file = await browser.post(
        "/console/batches",
        data={"csrf_token": csrf_of(await browser.get("/console/batches/new"))},
        files={"file": ("", b"", "application/octet-stream")},
        headers={"Origin": "http://testserver"},
    )
    assert no_file.status_code == 422
    assert "Choisissez un fichier à charger." in text_of(no_file)


async def test_maker_checker_the_maker_is_told_why_and_refused_the_checker_approves_and_it_is_paid(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    async with new_browser(app) as maker:
        await logged_in(maker, people.maker.email, people.maker.password)
        batch_id = batch_id_of(await upload_file(maker, "pensions.csv", CLEAN))
        draft = text_of(await maker.get(f"/console/batches/{batch_id}"))
        assert "Votre organisation exige une seconde personne" in draft
        submitted = await act(maker, batch_id, "submit")
        assert submitted.headers["location"] == f"/console/batches/{batch_id}?done=submit"
        page = await maker.get(submitted.headers["location"])
        text = text_of(page)
        assert "En attente d'approbation" in text
        assert "Votre organisation exige qu'une autre personne approuve ce lot que vous avez créé ou soumis." in text
        assert f"/console/batches/{batch_id}/approve" not in page.text
        forced = await submit(maker, page, f"/console/batches/{batch_id}/approve")
        assert forced.status_code == 403
        assert "exige qu'une autre personne approuve" in text_of(forced)
        assert (await api_batch(client, people.maker, batch_id))["state"] == "AWAITING_APPROVAL"
    async with new_browser(app) as checker:
        await logged_in(checker, people.checker.email, people.checker.password)
        page = await checker.get(f"/console/batches/{batch_id}")
        text = text_of(page)
        assert "Approuver et payer 202 500 F CFA" in text
        assert "Solde disponible : 10 000 000 F CFA" in text
        approved = await submit(checker, page, f"/console/batches/{batch_id}/approve")
        assert approved.headers["location"] == f"/console/batches/{batch_id}?done=approve"
        progress = await wait_final(checker, batch_id)
        assert progress == {
            "state": "COMPLETED",
            "completed": 3,
            "failed": 0,
            "cancelled": 0,
            "total": 3,
            "progress_percent": 100.0,
        }
        done = text_of(await checker.get(f"/console/batches/{batch_id}"))
        assert "Terminé" in done and "100 %" in done
        assert "Payé 202 500 F CFA" in done
        assert "approuvé par Fatou Sow" in done and "soumis par Moussa Diop" in done
        results = await checker.get(f"/console/batches/{batch_id}/results?format=csv")
        assert results.status_code == 200
        assert results.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(results.content.decode("utf-8-sig")), delimiter=";"))
        assert rows[0][:3] == ["Ligne", "Identifiant de transfert", "Nom"]
        paid = {(row[2], row[4], row[5], row[7]) for row in rows[1:]}
        # Cells starting with "+" are escaped so that a spreadsheet never reads them as formulas.
        assert paid == {
            ("Aminata Diallo", "'+221786936818", "62500", "payé"),
            ("Fatou Ndiaye", "'+221703234626", "125000", "payé"),
            ("Awa Traoré", "'+221783915995", "15000", "payé"),
        }
        workbook = await checker.get(f"/console/batches/{batch_id}/results?format=xlsx")
        assert workbook.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(workbook.content), read_only=True).active
        assert sheet is not None
        assert len(list(sheet.iter_rows(values_only=True))) == 4


async def test_a_supervisor_sees_everything_and_can_do_nothing(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    async with new_browser(app) as maker:
        await logged_in(maker, people.maker.email, people.maker.password)
        batch_id = batch_id_of(await upload_file(maker, "pensions.csv", CLEAN))
    async with new_browser(app) as supervisor:
        dashboard = await logged_in(supervisor, people.supervisor.email, people.supervisor.password)
        assert "pensions.csv" in text_of(dashboard)  # recent batches
        assert "/console/batches/new" not in dashboard.text
        page = await supervisor.get(f"/console/batches/{batch_id}")
        assert page.status_code == 200
        assert "Votre rôle permet de consulter ce lot, pas d'agir." in text_of(page)
        assert 'method="post" action="/console/batches/' not in page.text
        refused = await submit(supervisor, page, f"/console/batches/{batch_id}/submit")
        assert refused.status_code == 403
        assert "Votre rôle ne permet pas cette action." in text_of(refused)
        assert (await supervisor.get("/console/batches/new")).status_code == 403
        exported = await supervisor.get(f"/console/batches/{batch_id}/results?format=csv")
        assert exported.status_code == 200
    assert (await api_batch(client, people.maker, batch_id))["state"] == "DRAFT"


async def test_actions_need_the_form_token(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    await logged_in(browser, people.maker.email, people.maker.password)
    batch_id = batch_id_of(await upload_file(browser, "pensions.csv", CLEAN))
    forged = await browser.post(f"/console/batches/{batch_id}/submit", data={"csrf_token": "f" * 64})
    assert forged.status_code == 403
    page = await browser.get(f"/console/batches/{batch_id}")
    elsewhere = await browser.post(
        f"/console/batches/{batch_id}/submit",
        data={"csrf_token": csrf_of(page)},
        headers={"Origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
    assert (await api_batch(client, people.maker, batch_id))["state"] == "DRAFT"


async def test_not_enough_money_is_explained_and_nothing_changes(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker, funds=100_000)
    async with new_browser(app) as maker:
        await logged_in(maker, people.maker.email, people.maker.password)
        batch_id = batch_id_of(await upload_file(maker, "pensions.csv", CLEAN))
        await act(maker, batch_id, "submit")
    async with new_browser(app) as checker:
        await logged_in(checker, people.checker.email, people.checker.password)
        refused = await act(checker, batch_id, "approve")
        assert refused.status_code == 422
        text = text_of(refused)
        assert "Solde disponible insuffisant" in text
        assert "En attente d'approbation" in text  # the page shows the batch as it still is
    assert (await api_batch(client, people.maker, batch_id))["state"] == "AWAITING_APPROVAL"


async def test_cancel_and_discard(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    await logged_in(browser, people.maker.email, people.maker.password)
    first = batch_id_of(await upload_file(browser, "a.csv", CLEAN))
    await act(browser, first, "submit")
    cancelled = await act(browser, first, "cancel")
    assert cancelled.headers["location"] == f"/console/batches/{first}?done=cancel"
    assert "Annulé" in text_of(await browser.get(cancelled.headers["location"]))
    second = batch_id_of(await upload_file(browser, "b.csv", CLEAN))
    discarded = await act(browser, second, "discard")
    assert (discarded.status_code, discarded.headers["location"]) == (303, "/console/batches")
    gone = await browser.get(f"/console/batches/{second}")
    assert gone.status_code == 404
    assert "Lot de paiements introuvable." in text_of(gone)
    again = await act(browser, first, "cancel")
    assert again.status_code == 409
    assert "Impossible de annuler un lot à l'état CANCELLED." in text_of(again)


async def test_another_organisation_sees_nothing(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    async with new_browser(app) as maker:
        await logged_in(maker, people.maker.email, people.maker.password)
        batch_id = batch_id_of(await upload_file(maker, "pensions.csv", CLEAN))
    stranger = await create_org_with_user(client)
    async with new_browser(app) as other:
        await logged_in(other, stranger.email, stranger.password)
        for path in ("", "/status", "/results?format=csv", "/issues"):
            assert (await other.get(f"/console/batches/{batch_id}{path}")).status_code == 404, path
        page = await other.get("/console/batches")
        assert "pensions.csv" not in page.text
        assert (await act(other, str(uuid.uuid4()), "submit")).status_code == 404


async def test_lines_are_paginated_and_filtered(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    lines = "".join(f"MSISDN;+221 77 000 {index:02d} {index:02d};XOF;1 000;Payé {index}\r\n" for index in range(60))
    await logged_in(browser, people.maker.email, people.maker.password)
    batch_id = batch_id_of(await upload_file(browser, "soixante.csv", (HEADER + lines).encode()))
    first = await browser.get(f"/console/batches/{batch_id}")
    assert first.text.count("Payé ") == 50
    next_link = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = await browser.get(next_link.replace("&amp;", "&"))
    assert second.text.count("Payé ") == 10
    assert "Payé 59" in second.text and "Payé 0<" not in second.text
    none_failed = await browser.get(f"/console/batches/{batch_id}?state=FAILED")
    assert "Aucune ligne." in text_of(none_failed)


async def test_progress_comes_from_the_stream_and_the_status_with_the_cookie(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, sessionmaker)
    async with new_browser(app) as maker:
        await logged_in(maker, people.maker.email, people.maker.password)
        batch_id = batch_id_of(await upload_file(maker, "pensions.csv", CLEAN))
        await act(maker, batch_id, "submit")
    async with new_browser(app) as checker:
        await logged_in(checker, people.checker.email, people.checker.password)
        await act(checker, batch_id, "approve")
        base_url = app.state.settings.public_base_url
        cookie = {"Cookie": f"cauri_console={checker.cookies['cauri_console']}"}
        events: list[dict[str, Any]] = []
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=60) as http,
            http.stream("GET", f"/console/batches/{batch_id}/stream", headers=cookie) as stream,
        ):
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
        assert events, "the stream sent events"
        assert set(events[-1]) >= {"state", "completed", "failed", "total", "progress_percent"}
        assert events[-1]["state"] == "COMPLETED" and events[-1]["progress_percent"] == 100.0
        percents = [event["progress_percent"] for event in events]
        assert percents == sorted(percents)
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as anonymous:
            refused = await anonymous.get(f"/console/batches/{batch_id}/stream")
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"


async def test_failed_lines_are_explained_filtered_and_retried(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # The sandbox refuses numbers ending in 902 (the payee's wallet cannot receive: insufficient funds).
    mixed = (
        HEADER
        + "MSISDN;+221 77 000 01 00;XOF;10 000;Awa Ndiaye\r\n"
        + "MSISDN;+221 77 000 09 02;XOF;20 000;Omar Ba\r\n"
    ).encode()
    people = await team(client, sessionmaker)
    async with new_browser(app) as maker:
        await logged_in(maker, people.maker.email, people.maker.password)
        batch_id = batch_id_of(await upload_file(maker, "mixte.csv", mixed))
        await act(maker, batch_id, "submit")
    async with new_browser(app) as checker:
        await logged_in(checker, people.checker.email, people.checker.password)
        await act(checker, batch_id, "approve")
        progress = await wait_final(checker, batch_id)
        assert (progress["state"], progress["completed"], progress["failed"]) == ("PARTIALLY_COMPLETED", 1, 1)
        page = await checker.get(f"/console/batches/{batch_id}")
        text = text_of(page)
        assert "Terminé avec des échecs" in text
        assert "Payé 10 000 F CFA" in text and "En échec 20 000 F CFA" in text
        failed_only = text_of(await checker.get(f"/console/batches/{batch_id}?state=FAILED"))
        assert "Omar Ba" in failed_only and "Awa Ndiaye" not in failed_only
        line = (await client.get(f"/api/v1/bulk-transfers/{batch_id}/status", headers=people.checker.headers)).json()
        [failure] = [item["failure_message"] for item in line["lines"] if item["state"] == "FAILED"]
        assert failure and failure in failed_only
        retried = await submit(checker, page, f"/console/batches/{batch_id}/retry")
        assert retried.headers["location"] == f"/console/batches/{batch_id}?done=retry"
        assert "Les lignes en échec sont relancées." in text_of(await checker.get(retried.headers["location"]))
        again = await wait_final(checker, batch_id)
        assert (again["state"], again["completed"], again["failed"]) == ("PARTIALLY_COMPLETED", 1, 1)
        paid_only = await checker.get(f"/console/batches/{batch_id}/results?format=csv&state=COMPLETED")
        rows = list(csv.reader(io.StringIO(paid_only.content.decode("utf-8-sig")), delimiter=";"))
        assert [row[2] for row in rows[1:]] == ["Awa Ndiaye"]
    async with new_browser(app) as supervisor:
        await logged_in(supervisor, people.supervisor.email, people.supervisor.password)
        page = await supervisor.get(f"/console/batches/{batch_id}")
        assert f"/console/batches/{batch_id}/retry" not in page.text
