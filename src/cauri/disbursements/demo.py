"""The bulk payments demo that ``cauri demo`` seeds: a funded pension fund with the people a newcomer needs to try
every flow (two GESTIONNAIRE for maker–checker, a read-only SUPERVISEUR).

Idempotent: the funding transfer has a fixed id, so the ledger credits it once however often it runs.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.identity.models import Organization
from cauri.identity.permissions import Role
from cauri.identity.seeding import DemoOrganization, DemoSummary, DemoUser, ensure_organization
from cauri.ledger import service as ledger

DEMO_ORG_SLUG = "caisse-retraite-demo"
DEMO_CURRENCY = "XOF"
DEMO_FUNDING = 500_000_000  # 500 million F CFA, enough for many bulk payments
DEMO_FUNDING_TRANSFER = uuid.UUID("6c1b5f0e-3f4e-4a55-9a57-2f4c0de0a001")

PENSION_FUND = DemoOrganization(
    slug=DEMO_ORG_SLUG,
    name="Caisse de Retraite du Sahel (démo)",
    region="SN",
    maker_checker=True,
    users=(
        DemoUser("directrice@demo.cauri.africa", "Awa Ndiaye", Role.OWNER),
        DemoUser("gestionnaire1@demo.cauri.africa", "Moussa Diop", Role.GESTIONNAIRE),
        DemoUser("gestionnaire2@demo.cauri.africa", "Fatou Sow", Role.GESTIONNAIRE),
        DemoUser("superviseur@demo.cauri.africa", "Ibrahima Fall", Role.SUPERVISEUR),
    ),
)


async def _fund(session: AsyncSession, organization: Organization) -> int:
    wallet = await ledger.operating_account(session, organization.id, DEMO_CURRENCY)
    bank = await ledger.bank_deposits_account(session, organization.id, DEMO_CURRENCY)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=DEMO_FUNDING_TRANSFER,
                debit_account_id=bank.id,
                credit_account_id=wallet.id,
                amount=DEMO_FUNDING,
                code="deposit",
                metadata={"bank_reference": "DEMO-VIREMENT-0001", "note": "demo funding"},
            )
        ],
    )
    return (await ledger.balance(session, wallet.id)).available


async def seed(session: AsyncSession, settings: Settings) -> DemoSummary:
    organization = await ensure_organization(session, settings, PENSION_FUND)
    available = await _fund(session, organization)
    return DemoSummary(organization.name, organization.id, available, DEMO_CURRENCY, PENSION_FUND.users)
