"""Tontines and their members: create, list mine, read, update, deactivate, join by code, add, approve, leave (with
its settlement) and hand the président's or trésorier's role over.

Tenancy (docs/tontines.md): everything is scoped to the operator organisation, and inside it to the tontines the
caller belongs to: a tontine one is not a member of answers 404, exactly like another organisation's. The
operator's administrators (``tontines_admin``) and platform admins read every tontine of the organisation.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.money import currency_exponent
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.identity import organizations
from cauri.identity.permissions import Perm, has_permission
from cauri.ledger import service as ledger
from cauri.tontines import notices
from cauri.tontines.errors import (
    MemberNotFound,
    NotAManager,
    NotThePresident,
    TontineNotFound,
    invalid,
    wrong_state,
)
from cauri.tontines.models import (
    MANAGER_ROLES,
    MemberStatus,
    PenaltyKind,
    Tontine,
    TontineMember,
    TontineRole,
)
from cauri.tontines.schemas import TontineCreate, TontineRules, TontineUpdate

POT_CODE = "tontine_pot"
MEMBER_CASH_CODE = "tontine_member_cash"
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on a phone


@dataclass(frozen=True)
class Access:
    """A tontine as the caller sees it: their own membership (None for an operator admin who is not a member)."""

    tontine: Tontine
    member: TontineMember | None

    @property
    def role(self) -> str | None:
        return self.member.role if self.member is not None and self.member.status == MemberStatus.ACTIVE else None

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES

    @property
    def is_president(self) -> bool:
        return self.role == TontineRole.PRESIDENT

    def require_manager(self) -> TontineMember:
        if not self.is_manager or self.member is None:
            raise NotAManager()
        return self.member

    def require_president(self) -> TontineMember:
        if not self.is_president or self.member is None:
            raise NotThePresident()
        return self.member

    def require_active_member(self) -> TontineMember:
        if self.member is None or self.member.status != MemberStatus.ACTIVE:
            raise MemberNotFound(
                "Vous n'êtes pas membre actif de cette tontine.", "You are not an active member of this tontine."
            )
        return self.member


def person(principal: Principal) -> uuid.UUID:
    who = principal.person_id
    if who is None:
        raise NotAManager("Une personne identifiée est requise.", "An identified person is required.")
    return who


def sees_everything(principal: Principal) -> bool:
    return has_permission(principal, Perm.TONTINES_ADMIN)


def _new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def _check_rules(rules: TontineRules, amount: int) -> None:
    if rules.penalty_kind != "none" and rules.penalty_amount <= 0:
        raise invalid(
            "rules.penalty_amount",
            "penalty_amount_required",
            "Une pénalité fixe ou par jour exige un montant positif.",
            "A fixed or per-day penalty needs a positive amount.",
        )
    if rules.penalty_cap is not None and rules.penalty_cap < rules.penalty_amount:
        raise invalid(
            "rules.penalty_cap",
            "penalty_cap_below_amount",
            "Le plafond de pénalité ne peut être inférieur au montant de la pénalité.",
            "The penalty cap cannot be below the penalty amount.",
        )
    if rules.protection == "deposit" and rules.deposit_percent <= 0:
        raise invalid(
            "rules.deposit_percent",
            "deposit_percent_required",
            "Une caution retenue exige un pourcentage positif du pot.",
            "A withheld deposit needs a positive percentage of the pot.",
        )
    del amount


def _apply_rules(tontine: Tontine, rules: TontineRules) -> None:
    tontine.max_members = rules.max_members
    tontine.penalty_kind = rules.penalty_kind
    tontine.penalty_amount = rules.penalty_amount
    tontine.penalty_cap = rules.penalty_cap
    tontine.grace_days = rules.grace_days
    tontine.approval_required = rules.approval_required
    tontine.allow_partial = rules.allow_partial
    tontine.allow_advance = rules.allow_advance
    tontine.auction_enabled = rules.auction
    tontine.auction_discount = rules.auction_discount
    tontine.protection = rules.protection
    tontine.deposit_percent = rules.deposit_percent
    tontine.share_price = rules.share_price
    tontine.social_fund_amount = rules.social_fund_amount
    tontine.loan_interest_kind = rules.loan_interest_kind
    tontine.loan_interest_bp = rules.loan_interest_bp
    tontine.leaver_refund = rules.leaver_refund


def rules_of(tontine: Tontine) -> TontineRules:
    return TontineRules(
        max_members=tontine.max_members,
        penalty_kind=PenaltyKind(tontine.penalty_kind),
        penalty_amount=tontine.penalty_amount,
        penalty_cap=tontine.penalty_cap,
        grace_days=tontine.grace_days,
        approval_required=tontine.approval_required,
        allow_partial=tontine.allow_partial,
        allow_advance=tontine.allow_advance,
        auction=tontine.auction_enabled,
        auction_discount=tontine.auction_discount,
        protection=tontine.protection,
        deposit_percent=tontine.deposit_percent,
        share_price=tontine.share_price,
        social_fund_amount=tontine.social_fund_amount,
        loan_interest_kind=tontine.loan_interest_kind,
        loan_interest_bp=tontine.loan_interest_bp,
        leaver_refund=tontine.leaver_refund,
    )


async def _new_member(
    session: AsyncSession, tontine: Tontine, user_id: uuid.UUID, role: str, status: str
) -> TontineMember:
    _, user = await organizations.member_by_user(session, tontine.organization_id, user_id)
    member = TontineMember(
        id=uuid.uuid4(),
        tontine_id=tontine.id,
        organization_id=tontine.organization_id,
        user_id=user.id,
        display_name=user.full_name,
        phone=user.phone,
        role=role,
        status=status,
        joined_at=utcnow(),
    )
    session.add(member)
    await session.flush()
    return member


async def create_tontine(
    session: AsyncSession, *, principal: Principal, organization_id: uuid.UUID, body: TontineCreate
) -> Access:
    """A new tontine, its pot account, and its creator as président."""
    try:
        currency_exponent(body.currency)
    except Exception:
        raise invalid("currency", "invalid_currency", "Devise inconnue.", "Unknown currency.") from None
    _check_rules(body.rules, body.contribution_amount)
    try:
        ZoneInfo(body.timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        raise invalid("timezone", "unknown_timezone", "Fuseau horaire inconnu.", "Unknown time zone.") from None
    tontine_id = uuid.uuid4()
    pot = await ledger.get_or_create_account(
        session,
        organization_id=organization_id,
        currency=body.currency,
        code=POT_CODE,
        owner_ref=str(tontine_id),
        debits_must_not_exceed_credits=True,
    )
    tontine = Tontine(
        id=tontine_id,
        organization_id=organization_id,
        name=body.name.strip(),
        description=body.description,
        type=body.type,
        frequency=body.frequency,
        start_date=body.start_date,
        contribution_amount=body.contribution_amount,
        currency=body.currency,
        join_code=_new_code(),
        pot_account_id=pot.id,
        cycle=1,
        active=True,
        timezone=body.timezone,
        created_by=person(principal),
    )
    _apply_rules(tontine, body.rules)
    session.add(tontine)
    await session.flush()
    president = await _new_member(session, tontine, person(principal), TontineRole.PRESIDENT, MemberStatus.ACTIVE)
    return Access(tontine, president)


async def access(
    session: AsyncSession,
    *,
    principal: Principal,
    organization_id: uuid.UUID,
    tontine_id: uuid.UUID,
    lock: bool = False,
) -> Access:
    """The tontine as the caller may see it; 404 when it is not theirs (or not their organisation's)."""
    query = select(Tontine).where(Tontine.id == tontine_id, Tontine.organization_id == organization_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    tontine = await session.scalar(query)
    if tontine is None:
        raise TontineNotFound(field="tontine_id")
    member = await session.scalar(
        select(TontineMember).where(
            TontineMember.tontine_id == tontine.id, TontineMember.user_id == principal.person_id
        )
    )
    if member is None and not sees_everything(principal):
        raise TontineNotFound(field="tontine_id")
    return Access(tontine, member)


async def list_tontines(
    session: AsyncSession, *, principal: Principal, organization_id: uuid.UUID, params: PageParams
) -> tuple[list[Tontine], str | None]:
    """The caller's tontines (every one for an operator admin), newest first."""
    query = select(Tontine).where(Tontine.organization_id == organization_id)
    if not sees_everything(principal):
        mine = select(TontineMember.tontine_id).where(
            TontineMember.user_id == principal.person_id, TontineMember.status != MemberStatus.LEFT
        )
        query = query.where(Tontine.id.in_(mine))
    rows, cursor = await paginate(session, query, params, created_at=Tontine.created_at, row_id=Tontine.id)
    return list(rows), cursor


async def active_members(session: AsyncSession, tontine_id: uuid.UUID) -> list[TontineMember]:
    found = await session.scalars(
        select(TontineMember)
        .where(TontineMember.tontine_id == tontine_id, TontineMember.status == MemberStatus.ACTIVE)
        .order_by(TontineMember.joined_at, TontineMember.id)
    )
    return list(found)


async def member_count(session: AsyncSession, tontine_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(TontineMember)
        .where(TontineMember.tontine_id == tontine_id, TontineMember.status != MemberStatus.LEFT)
    )
    return int(count or 0)


async def update_tontine(session: AsyncSession, seen: Access, body: TontineUpdate) -> Tontine:
    seen.require_president()
    tontine = seen.tontine
    if body.name is not None:
        tontine.name = body.name.strip()
    if body.description is not None:
        tontine.description = body.description
    if body.rules is not None:
        _check_rules(body.rules, tontine.contribution_amount)
        if body.rules.max_members < await member_count(session, tontine.id):
            raise invalid(
                "rules.max_members",
                "below_member_count",
                "La tontine a déjà plus de membres que ce maximum.",
                "The tontine already has more members than this maximum.",
            )
        _apply_rules(tontine, body.rules)
    tontine.updated_at = utcnow()
    await session.flush()
    return tontine


async def deactivate_tontine(session: AsyncSession, seen: Access) -> Tontine:
    seen.require_president()
    if not seen.tontine.active:
        raise wrong_state("La tontine est déjà désactivée", "The tontine is already deactivated", "inactive")
    seen.tontine.active = False
    await session.flush()
    return seen.tontine


def _require_active(tontine: Tontine, field: str = "tontine_id") -> None:
    if not tontine.active:
        raise wrong_state("Cette tontine est désactivée", "This tontine is deactivated", "inactive", field=field)


async def _check_room(session: AsyncSession, tontine: Tontine, field: str) -> None:
    if await member_count(session, tontine.id) >= tontine.max_members:
        raise invalid(
            field,
            "tontine_full",
            f"La tontine est complète ({tontine.max_members} membres au plus).",
            f"The tontine is full (at most {tontine.max_members} members).",
        )


async def by_code(session: AsyncSession, *, organization_id: uuid.UUID, code: str, lock: bool = False) -> Tontine:
    """The active tontine of this join code (a wrong or expired code is a 422 naming ``code``)."""
    query = select(Tontine).where(Tontine.organization_id == organization_id, Tontine.join_code == code.strip().upper())
    tontine = await session.scalar(query.with_for_update() if lock else query)
    if tontine is None or not tontine.active:
        raise invalid("code", "invalid_join_code", "Code de tontine inconnu.", "Unknown tontine code.")
    if tontine.join_code_expires_at is not None and tontine.join_code_expires_at <= utcnow():
        raise invalid("code", "join_code_expired", "Ce code de tontine a expiré.", "This tontine code has expired.")
    return tontine


async def join(session: AsyncSession, *, principal: Principal, organization_id: uuid.UUID, code: str) -> Access:
    """Join by the tontine's code: active at once, or pending the président's approval when the rules ask it."""
    tontine = await by_code(session, organization_id=organization_id, code=code, lock=True)
    existing = await session.scalar(
        select(TontineMember).where(TontineMember.tontine_id == tontine.id, TontineMember.user_id == person(principal))
    )
    if existing is not None and existing.status != MemberStatus.LEFT:
        raise invalid("code", "already_member", "Vous êtes déjà membre de cette tontine.", "You already belong here.")
    await _check_room(session, tontine, "code")
    status = MemberStatus.PENDING if tontine.approval_required else MemberStatus.ACTIVE
    if existing is not None:  # back after leaving (or a refusal): the same row, a new start
        existing.status, existing.role, existing.joined_at, existing.left_at = (
            status,
            TontineRole.MEMBRE,
            utcnow(),
            None,
        )
        existing.settlement_amount = None
        await session.flush()
        member = existing
    else:
        member = await _new_member(session, tontine, person(principal), TontineRole.MEMBRE, status)
    if status == MemberStatus.PENDING:
        managers = await session.scalars(
            select(TontineMember).where(
                TontineMember.tontine_id == tontine.id,
                TontineMember.status == MemberStatus.ACTIVE,
                TontineMember.role.in_(list(MANAGER_ROLES)),
            )
        )
        await notices.member_request(session, tontine, member, list(managers))
    return Access(tontine, member)


async def add_member(session: AsyncSession, seen: Access, *, user_id: uuid.UUID, role: str) -> TontineMember:
    seen.require_president()
    _require_active(seen.tontine)
    existing = await session.scalar(
        select(TontineMember).where(TontineMember.tontine_id == seen.tontine.id, TontineMember.user_id == user_id)
    )
    if existing is not None and existing.status != MemberStatus.LEFT:
        raise invalid("user_id", "already_member", "Cette personne est déjà membre.", "This person already belongs.")
    if role == TontineRole.PRESIDENT:
        raise invalid(
            "role",
            "use_handover",
            "Le rôle de président se transmet (handover), il ne se donne pas à l'ajout.",
            "The president's role is handed over, not given when adding a member.",
        )
    await _check_room(session, seen.tontine, "user_id")
    try:
        return await _new_member(session, seen.tontine, user_id, role, MemberStatus.ACTIVE)
    except MemberNotFound:
        raise
    except Exception as exc:  # identity's member_not_found: the person is not one of the operator's users
        if getattr(exc, "status", None) == 404:
            raise MemberNotFound(field="user_id") from None
        raise


async def get_member(
    session: AsyncSession, tontine: Tontine, member_id: uuid.UUID, field: str = "member_id"
) -> TontineMember:
    member = await session.scalar(
        select(TontineMember).where(TontineMember.id == member_id, TontineMember.tontine_id == tontine.id)
    )
    if member is None:
        raise MemberNotFound(field=field)
    return member


async def approve_member(session: AsyncSession, seen: Access, member_id: uuid.UUID) -> TontineMember:
    seen.require_president()
    member = await get_member(session, seen.tontine, member_id)
    if member.status != MemberStatus.PENDING:
        raise wrong_state("Ce membre n'attend pas d'approbation", "This member is not awaiting approval", member.status)
    member.status = MemberStatus.ACTIVE
    await session.flush()
    await notices.member_decision(session, seen.tontine, member, approved=True, reason=None)
    return member


async def reject_member(session: AsyncSession, seen: Access, member_id: uuid.UUID, reason: str) -> TontineMember:
    """The président refuses a request to join, with a reason the applicant is told; they may ask again later."""
    seen.require_president()
    member = await get_member(session, seen.tontine, member_id)
    if member.status != MemberStatus.PENDING:
        raise wrong_state("Ce membre n'attend pas d'approbation", "This member is not awaiting approval", member.status)
    if not reason.strip():
        raise invalid("reason", "reason_required", "Dites pourquoi vous refusez.", "Say why you refuse it.")
    member.status, member.left_at = MemberStatus.LEFT, utcnow()
    await session.flush()
    await notices.member_decision(session, seen.tontine, member, approved=False, reason=reason.strip())
    return member


async def list_members(session: AsyncSession, seen: Access) -> list[TontineMember]:
    found = await session.scalars(
        select(TontineMember)
        .where(TontineMember.tontine_id == seen.tontine.id)
        .order_by(TontineMember.joined_at, TontineMember.id)
    )
    return list(found)


async def handover(session: AsyncSession, seen: Access, *, role: str, member_id: uuid.UUID) -> TontineMember:
    """Give the président's (by the président) or trésorier's role (by the président or the trésorier) to another
    active member; the one who held it becomes a plain member."""
    me = seen.require_manager()
    if role == TontineRole.PRESIDENT and me.role != TontineRole.PRESIDENT:
        raise NotThePresident()
    target = await get_member(session, seen.tontine, member_id)
    if target.status != MemberStatus.ACTIVE:
        raise invalid("member_id", "member_not_active", "Ce membre n'est pas actif.", "This member is not active.")
    if target.role == role:
        raise invalid("member_id", "already_holds_role", "Ce membre a déjà ce rôle.", "This member already has it.")
    if target.role == TontineRole.PRESIDENT:
        raise invalid(
            "member_id",
            "president_cannot_take",
            "Le président garde son rôle : il transmet d'abord la présidence.",
            "The president keeps that role: hand the presidency over first.",
        )
    holders = await session.scalars(
        select(TontineMember).where(
            TontineMember.tontine_id == seen.tontine.id,
            TontineMember.role == role,
            TontineMember.status == MemberStatus.ACTIVE,
        )
    )
    for holder in holders:
        holder.role = TontineRole.MEMBRE
    target.role = role
    await session.flush()
    return target


def summary(tontine: Tontine) -> dict[str, Any]:
    return {"id": str(tontine.id), "name": tontine.name}
