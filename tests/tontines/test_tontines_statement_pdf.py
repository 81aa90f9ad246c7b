"""A member's statement as PDF (``core.pdf``, shared with rentals' receipts): it parses (its cross-reference table
points at every object, each page's text is read back), carries the member's totals and French accents, in the
caller's language; only the member and the managers get it."""

from __future__ import annotations

import re

import httpx

from cauri.core import pdf
from tests.tontines.support import create, join, members_by_user, ok, operator, record_cash

_STRING = re.compile(rb"\(((?:\\.|[^\\)])*)\) Tj")


def read_pdf(document: bytes) -> list[list[str]]:
    """A small reader for what ``core.pdf`` writes: checks the header, the trailer and that the cross-reference table
    points at each object, then gives each page's text lines (strings shown at the same height form one line)."""
    assert document.startswith(b"%PDF-1.4\n") and document.rstrip().endswith(b"%%EOF")
    start = int(document.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    table = document[start:].split(b"\n")
    assert table[0] == b"xref"
    count = int(table[1].split()[1])
    offsets = [int(line[:10]) for line in table[3 : 2 + count]]
    assert [document[o : o + len(b"%d 0 obj" % n)] for n, o in enumerate(offsets, 1)] == [
        b"%d 0 obj" % n for n in range(1, count)
    ]
    kids = re.search(rb"/Kids \[([^\]]*)\]", document)
    assert kids is not None
    pages = []
    for page in [int(n) for n in re.findall(rb"(\d+) 0 R", kids.group(1))]:
        body = document[offsets[page - 1] :]
        contents = int(re.search(rb"/Contents (\d+) 0 R", body.split(b"endobj", 1)[0]).group(1))  # type: ignore[union-attr]
        stream = document[offsets[contents - 1] :].split(b"stream\n", 1)[1].split(b"endstream", 1)[0]
        length = int(re.search(rb"/Length (\d+)", document[offsets[contents - 1] :]).group(1))  # type: ignore[union-attr]
        assert len(stream) == length
        lines: dict[int, list[str]] = {}
        for y, raw in re.findall(rb"1 0 0 1 \d+ (\d+) Tm \(((?:\\.|[^\\)])*)\) Tj", stream):
            text = re.sub(rb"\\(.)", rb"\1", raw).decode("cp1252")
            lines.setdefault(-int(y), []).append(text)
        pages.append([" ".join(parts) for _, parts in sorted(lines.items())])
    return pages


def test_a_long_table_flows_onto_new_pages_with_its_header() -> None:
    rows = [[str(n), f"Séance {n}", pdf.money(-n * 1_250, "EUR")] for n in range(1, 90)]
    document = pdf.render(
        "Relevé (test)", [pdf.Text("Échéancier", 16), pdf.Table(["N°", "Libellé", "Montant"], rows, [40, 120, 90])]
    )
    pages = read_pdf(document)
    assert len(pages) >= 2 and pages[0][0] == "Échéancier"
    assert all("N° Libellé Montant" in page for page in pages)  # the header is repeated on every page
    body = [line for page in pages for line in page if line not in ("Échéancier", "N° Libellé Montant")]
    assert body == [" ".join(row) for row in rows]
    assert "89 Séance 89 -1 112,50 EUR" in body and b"/Title (Relev\xe9 \\(test\\))" in document


def test_a_long_line_wraps_at_words_inside_the_margins() -> None:
    name = "Tontine des commerçantes et des revendeuses de poisson fumé du marché central de Thiès"
    (page,) = read_pdf(pdf.render("x", [pdf.Text(f"RELEVÉ DE COMPTE - {name}", 16), pdf.Text("fin")]))
    assert len(page) == 3 and " ".join(page[:-1]) == f"RELEVÉ DE COMPTE - {name}" and page[-1] == "fin"
    assert all(len(line) * 16 * 0.52 <= pdf.PAGE_WIDTH - 2 * pdf.MARGIN_LEFT for line in page)


async def test_a_member_gets_their_statement_as_pdf_with_their_totals(client: httpx.AsyncClient) -> None:
    org = await operator(client, 3, names=["Aïssatou Ndiaye", "Béatrice Sow", "Chérif Fall"])
    president, treasurer, member = org.members
    tontine = await create(client, president, name="Tontine des commerçantes de Thiès")
    tid = tontine["id"]
    for actor in (treasurer, member):
        await join(client, actor, tontine["join_code"])
    ids = await members_by_user(client, president, tid)
    ok(
        await client.post(
            f"/api/v1/tontines/{tid}/handover",
            json={"role": "tresorier", "member_id": ids[treasurer.user_id]},
            headers=president.headers,
        )
    )
    planned = ok(
        await client.post(f"/api/v1/tontines/{tid}/sessions", json={"count": 2}, headers=president.headers), 201
    )
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{planned[0]['id']}/open", headers=president.headers))
    recorded = ok(
        await record_cash(client, treasurer, tid, session_id=planned[0]["id"], member_id=ids[member.user_id]), 201
    )
    path = f"/api/v1/tontines/{tid}/contributions/{recorded['id']}/validate"
    ok(await client.post(path, json={"approve": True}, headers=president.headers))
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{planned[1]['id']}/open", headers=president.headers))

    url = f"/api/v1/tontines/{tid}/members/{ids[member.user_id]}/statement.pdf"
    answer = await client.get(url, headers=member.headers)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    (page,) = read_pdf(answer.content)
    assert page[0] == "RELEVÉ DE COMPTE - Tontine des commerçantes de Thiès"
    assert "Membre : Chérif Fall" in page
    # Paid 10 000 at session 1, owes session 2's 10 000; no turn received yet.
    for line in ("Total cotisé : 10 000 XAF", "Total reçu (tours) : 0 XAF", "Reste dû : 10 000 XAF"):
        assert line in page
    assert any(line.startswith("1 ") and line.endswith("10 000 XAF 10 000 XAF 0 XAF 0 XAF non 0 XAF") for line in page)
    assert b"RELEV\xc9 DE COMPTE" in answer.content  # WinAnsi: É is 0xC9

    english = await client.get(url, headers={**president.headers, "Accept-Language": "en"})  # a manager may
    (page,) = read_pdf(english.content)
    assert "Total paid : 10 000 XAF" in page and "Still owed : 10 000 XAF" in page
    other = await client.get(
        f"/api/v1/tontines/{tid}/members/{ids[treasurer.user_id]}/statement.pdf",
        headers={**member.headers, "Accept-Language": "en"},
    )
    assert other.status_code == 403 and other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "tontine_manager_required"
