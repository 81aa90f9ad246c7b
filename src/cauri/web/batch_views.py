"""What the bulk payment pages show: a batch's report, the buttons its state and the reader's role allow, names.

Display only: every rule shown here (who may approve, what a state allows) is enforced again by
:mod:`cauri.disbursements.service` when the button is pressed, and its refusal is what the page then shows.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.i18n import Language, pick
from cauri.disbursements.errors import MakerCheckerViolation
from cauri.disbursements.models import (
    FINAL_BATCH_STATES,
    RUNNING_BATCH_STATES,
    BatchState,
    BulkBatch,
    BulkLine,
    LineState,
    PayeeCheck,
    PayeeStatus,
)
from cauri.disbursements.payees import CHECKABLE_STATES
from cauri.identity.models import User
from cauri.identity.permissions import Perm, has_permission
from cauri.web.auth import ConsoleSession

MAX_ISSUES_SHOWN = 200
TERMINAL_STATES = " ".join(sorted(state.value for state in FINAL_BATCH_STATES))


@dataclass(frozen=True)
class IssueView:
    line: int | None
    column: str | None
    message: str
    code: str


@dataclass(frozen=True)
class ReportView:
    file_issues: list[IssueView]
    errors: list[IssueView]
    warnings: list[IssueView]
    issues_omitted: int
    has_issues: bool


def _issue(data: dict[str, Any], language: Language) -> IssueView:
    return IssueView(
        line=data.get("line"),
        column=data.get("column"),
        message=pick(str(data.get("message_fr") or ""), str(data.get("message_en") or ""), language),
        code=str(data.get("code") or ""),
    )


def report_view(report: dict[str, Any] | None, language: Language) -> ReportView:
    """The validation report as the page lists it: file problems, line errors, warnings to review."""
    report = report or {}
    issues = list(report.get("issues") or [])
    errors = [_issue(item, language) for item in issues if item.get("severity") == "error"]
    warnings = [_issue(item, language) for item in issues if item.get("severity") == "warning"]
    file_issues = [_issue(item, language) for item in report.get("file_issues") or []]
    omitted = int(report.get("issues_omitted") or 0) + max(0, len(errors) + len(warnings) - MAX_ISSUES_SHOWN)
    return ReportView(
        file_issues=file_issues,
        errors=errors[:MAX_ISSUES_SHOWN],
        warnings=warnings[: max(0, MAX_ISSUES_SHOWN - len(errors))],
        issues_omitted=omitted,
        has_issues=bool(issues or file_issues),
    )


@dataclass(frozen=True)
class Action:
    name: str  # the path segment: /console/batches/{id}/{name}
    label: str  # i18n key
    style: str  # primary | danger | ""
    confirm: str | None = None  # i18n key of the confirmation question


@dataclass(frozen=True)
class Controls:
    actions: list[Action]
    explanation: str | None  # why an expected button is missing, in the reader's language
    awaiting_someone_else: bool


def _is_maker(batch: BulkBatch, console: ConsoleSession) -> bool:
    return console.user_id in (batch.created_by, batch.submitted_by)


def controls(batch: BulkBatch, console: ConsoleSession, language: Language) -> Controls:
    """The buttons this reader may press on this batch now, and why one is missing."""
    state = BatchState(batch.state)
    principal = console.principal
    may_create = has_permission(principal, Perm.BULK_CREATE)
    may_approve = has_permission(principal, Perm.BULK_APPROVE)
    actions: list[Action] = []
    explanation = None
    if not may_create and not may_approve and state not in FINAL_BATCH_STATES:
        explanation = pick(
            "Votre rôle permet de consulter ce lot, pas d'agir.", "Your role lets you view, not act.", language
        )
    if state is BatchState.DRAFT and may_create:
        if batch.valid_lines > 0:
            actions.append(Action("submit", "batch.action.submit", "primary"))
        actions.append(Action("discard", "batch.action.discard", "danger", "batch.confirm.discard"))
    awaiting = False
    if state is BatchState.AWAITING_APPROVAL:
        if _is_maker(batch, console):
            awaiting = True
            explanation = pick(MakerCheckerViolation.message_fr, MakerCheckerViolation.message_en, language)
        elif may_approve:
            actions.append(Action("approve", "batch.action.approve", "primary", "batch.confirm.approve"))
        if may_create:
            actions.append(Action("cancel", "batch.action.cancel", "danger", "batch.confirm.cancel"))
    if state in CHECKABLE_STATES and may_create and batch.valid_lines > 0 and batch.payee_check != PayeeCheck.RUNNING:
        # The same permission as POST /bulk-transfers/{id}/payee-check (bulk_create), before approval only.
        label = "batch.action.payee_recheck" if batch.payee_check == PayeeCheck.DONE else "batch.action.payee_check"
        actions.append(Action("payee-check", label, ""))
    if state in RUNNING_BATCH_STATES and may_create and not batch.cancel_requested:
        actions.append(Action("cancel", "batch.action.stop", "danger", "batch.confirm.stop"))
    if state in (BatchState.PARTIALLY_COMPLETED, BatchState.FAILED) and may_create and batch.failed_lines > 0:
        actions.append(Action("retry", "batch.action.retry", "primary", "batch.confirm.retry"))
    return Controls(actions=actions, explanation=explanation, awaiting_someone_else=awaiting)


@dataclass(frozen=True)
class PayeeCheckView:
    """The batch's payee check as the page shows it (``state`` is ``not_requested``, ``running`` or ``done``)."""

    state: str
    checked: int
    flagged: int
    total: int
    unsupported: int  # lines the provider could not check at all (no account-holder lookup)

    @property
    def running(self) -> bool:
        return self.state == PayeeCheck.RUNNING

    @property
    def requested(self) -> bool:
        return self.state != PayeeCheck.NOT_REQUESTED


def payee_check_view(batch: BulkBatch, unsupported: int) -> PayeeCheckView:
    return PayeeCheckView(
        state=str(batch.payee_check),
        checked=batch.payees_checked,
        flagged=batch.payees_flagged,
        total=batch.valid_lines,
        unsupported=unsupported,
    )


def payee_flag(line: BulkLine) -> str | None:
    """The i18n key of why the check flagged this line's payee (None: not flagged), as ``payees.FLAGGED`` counts.

    ``inactive`` covers both a number without an account and an account that cannot receive: when the provider
    still gives a holder's name the account exists (inactive or blocked), without one the number is unknown to it.
    """
    status = line.payee_status
    if status == PayeeStatus.INACTIVE:
        return "line.payee_inactive" if line.payee_provider_name else "line.payee_unknown"
    if status == PayeeStatus.UNAVAILABLE:
        return "line.payee_unavailable"
    return None  # active, not checked yet, or unsupported (the check section says the provider has no lookup)


def _name_words(name: str) -> list[str]:
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return sorted(re.findall(r"\w+", plain.casefold()))


def provider_name_differs(line: BulkLine) -> bool:
    """Whether the provider's name for the number is worth showing next to the file's: it differs beyond case,
    accents, punctuation and word order ("DIALLO Aminata" is "Aminata Diallo"), or the file gave none."""
    if not line.payee_provider_name:
        return False
    if not line.payee_name:
        return True
    return _name_words(line.payee_provider_name) != _name_words(line.payee_name)


def is_running(batch: BulkBatch) -> bool:
    return BatchState(batch.state) in RUNNING_BATCH_STATES


async def user_names(session: AsyncSession, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
    return {row.id: row.full_name for row in rows}


BATCH_STATES = [state.value for state in BatchState]
LINE_STATES = [state.value for state in LineState]
