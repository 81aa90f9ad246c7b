"""What the bulk payment pages show: a batch's report, the buttons its state and the reader's role allow, names.

Display only: every rule shown here (who may approve, what a state allows) is enforced again by
:mod:`cauri.disbursements.service` when the button is pressed, and its refusal is what the page then shows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.i18n import Language, pick
from cauri.disbursements.errors import MakerCheckerViolation
from cauri.disbursements.models import FINAL_BATCH_STATES, RUNNING_BATCH_STATES, BatchState, BulkBatch, LineState
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
    if state in RUNNING_BATCH_STATES and may_create and not batch.cancel_requested:
        actions.append(Action("cancel", "batch.action.stop", "danger", "batch.confirm.stop"))
    if state in (BatchState.PARTIALLY_COMPLETED, BatchState.FAILED) and may_create and batch.failed_lines > 0:
        actions.append(Action("retry", "batch.action.retry", "primary", "batch.confirm.retry"))
    return Controls(actions=actions, explanation=explanation, awaiting_someone_else=awaiting)


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
