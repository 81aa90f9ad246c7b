"""Rent receipts (quittances de loyer) as PDF: one A4 page of text, written by ``cauri.core.pdf`` (Helvetica,
WinAnsi: French accents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from cauri.core import pdf
from cauri.core.pdf import money

MONTHS_FR: Final = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


@dataclass(frozen=True)
class Receipt:
    number: str
    landlord: str
    tenant: str
    address: str
    period_start: date
    period_end: date
    rent: int
    late_fee: int
    carried: int
    paid: int
    currency: str
    paid_on: date
    issued_on: date


def _french(day: date) -> str:
    return f"{day.day} {MONTHS_FR[day.month - 1]} {day.year}"


def lines_of(receipt: Receipt) -> list[tuple[int, str]]:
    """(font size, text) from the top of the page."""
    period = f"{MONTHS_FR[receipt.period_start.month - 1]} {receipt.period_start.year}"
    lines: list[tuple[int, str]] = [
        (18, f"QUITTANCE DE LOYER - {period.upper()}"),
        (10, f"N° {receipt.number}"),
        (11, ""),
        (11, f"Bailleur : {receipt.landlord}"),
        (11, f"Locataire : {receipt.tenant}"),
        (11, f"Logement : {receipt.address}"),
        (11, f"Période : du {_french(receipt.period_start)} au {_french(receipt.period_end)}"),
        (11, ""),
        (11, f"Loyer du mois : {money(receipt.rent, receipt.currency)}"),
    ]
    if receipt.carried:
        lines.append((11, f"Solde reporté du mois précédent : {money(receipt.carried, receipt.currency)}"))
    if receipt.late_fee:
        lines.append((11, f"Pénalité de retard : {money(receipt.late_fee, receipt.currency)}"))
    lines += [
        (11, f"Total réglé : {money(receipt.paid, receipt.currency)} (dernier paiement le {_french(receipt.paid_on)})"),
        (11, ""),
        (11, f"Je soussigné(e) {receipt.landlord}, bailleur, déclare avoir reçu de {receipt.tenant}"),
        (11, f"la somme de {money(receipt.paid, receipt.currency)} au titre du loyer et des charges de la période"),
        (11, "ci-dessus, et lui en donne quittance, sous réserve de tous mes droits."),
        (11, ""),
        (11, f"Fait le {_french(receipt.issued_on)}, via LokaHome."),
    ]
    return lines


def render_pdf(receipt: Receipt) -> bytes:
    """A one-page PDF 1.4 document."""
    return pdf.render(f"Quittance {receipt.number}", [pdf.Text(text, size) for size, text in lines_of(receipt)])
