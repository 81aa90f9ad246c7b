"""``/restaurant``: CRM connections, customers' consent, their push to the CRMs, erasure on request."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends, status
from pydantic import BaseModel, Field, SecretStr

from cauri.core.deps import SettingsDep
from cauri.core.errors import field_error
from cauri.core.jobs import enqueue
from cauri.core.pagination import Page
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity.audit import record_audit
from cauri.identity.permissions import Perm, require, require_org
from cauri.restaurant import customers
from cauri.restaurant.models import Customer
from cauri.restaurant.schemas import Input

router = api_router(tags=["restaurant"])  # included by router.py under /restaurant

Manager = Annotated[Principal, Depends(require(Perm.ORG_MANAGE))]
Reader = Annotated[Principal, Depends(require(Perm.ORG_READ))]
CredentialsManager = Annotated[Principal, Depends(require(Perm.CONNECTORS_MANAGE))]


class CrmWrite(Input):
    """HubSpot: ``access_token`` (a private app's) and ``client_secret`` (webhook v3 signatures). Zoho:
    ``client_id``, ``client_secret``, ``refresh_token``, ``region`` (us, eu, in, au, jp, cn, ca, sa) or
    ``accounts_url``, ``api_domain``, ``notification_token``. Secrets are write-only, encrypted at rest."""

    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    client_secret: SecretStr | None = None
    client_id: str | None = Field(default=None, max_length=200)
    region: str | None = Field(default=None, pattern="^(us|eu|in|au|jp|cn|ca|sa)$")
    accounts_url: str | None = Field(default=None, max_length=500, pattern="^https?://")
    api_domain: str | None = Field(default=None, max_length=500, pattern="^https?://")
    base_url: str | None = Field(default=None, max_length=500, pattern="^https?://")
    notification_token: str | None = Field(default=None, max_length=200)


class ConsentWrite(Input):
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40)
    name: str = Field(default="", max_length=200)
    consent: bool


class CustomerRead(BaseModel):
    id: uuid.UUID
    name: str
    email: str | None
    phone: str | None
    consent: bool
    consent_source: str | None
    consent_at: datetime | None
    points: int
    in_crms: list[str]
    erased_at: datetime | None

    @classmethod
    def of(cls, row: Customer) -> CustomerRead:
        return cls(
            id=row.id,
            name=row.name,
            email=row.email,
            phone=row.phone,
            consent=row.consent,
            consent_source=row.consent_source,
            consent_at=row.consent_at,
            points=row.points,
            in_crms=sorted(row.crm_ids),
            erased_at=row.erased_at,
        )


@router.put("/crm/{name}", summary="Connect a CRM (HubSpot, Zoho) with its credentials")
async def put_crm(
    name: str, body: CrmWrite, principal: CredentialsManager, session: SessionDep, settings: SettingsDep
) -> dict[str, str]:
    secret = body.access_token if name == "hubspot" else body.refresh_token
    if secret is None:
        missing = "access_token" if name == "hubspot" else "refresh_token"
        raise field_error(missing, "required", "Requis pour ce CRM.", "Required for this CRM.")
    values = body.model_dump(include={"client_id", "region", "accounts_url", "api_domain", "base_url"})
    values["notification_token"] = body.notification_token
    row = await customers.configure_crm(
        session,
        settings=settings,
        organization_id=require_org(principal),
        name=name,
        secret=secret,
        webhook_secret=body.client_secret,
        values=values,
    )
    return {"name": row.provider, "status": row.status}


@router.post("/customers/consent", summary="Record a guest's marketing consent (or its withdrawal)")
async def record_consent(body: ConsentWrite, principal: Manager, session: SessionDep) -> CustomerRead:
    row = await customers.record_consent(
        session,
        organization_id=require_org(principal),
        email=body.email,
        phone=body.phone,
        name=body.name,
        consent=body.consent,
        source="restaurant",
    )
    return CustomerRead.of(row)


@router.get("/customers", summary="Guests matched from reservations, their consent and points (first 500)")
async def list_customers(principal: Reader, session: SessionDep) -> Page[CustomerRead]:
    rows = await customers.list_customers(session, require_org(principal))
    return Page[CustomerRead](items=[CustomerRead.of(row) for row in rows])


@router.post(
    "/customers/{customer_id}/erase",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Erase a guest on request (GDPR): at every CRM, then here",
)
async def erase_customer(customer_id: uuid.UUID, principal: Manager, session: SessionDep) -> CustomerRead:
    organization_id = require_org(principal)
    row = await customers.request_erasure(session, organization_id=organization_id, customer_id=customer_id)
    await record_audit(
        session,
        action="restaurant.customer.erase",
        organization_id=organization_id,
        actor=principal,
        target_type="restaurant_customer",
        target_id=str(customer_id),
    )
    return CustomerRead.of(row)


@router.post("/crm/sync", status_code=status.HTTP_202_ACCEPTED, summary="Push consenting customers to the CRMs")
async def sync_crm(principal: Manager, session: SessionDep) -> dict[str, str]:
    job = await enqueue(session, customers.CRM_SYNC_JOB, {"organization_id": str(require_org(principal))})
    return {"job_id": str(job)}
