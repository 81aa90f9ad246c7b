"""Hypothesis state machine: random joins, sessions, cash contributions (full, partial, too much), validations
(and a recorder trying their own), rejections, corrections, closes (penalties for the late), leavings, the payout
order, bids and the auction of the current turn (the discount shared among the others), and swaps of turns
(proposed, then answered by the other member, the proposer or a third), against a reference model that predicts
every call's outcome and every balance — the pot's ledger balance, the sum of its movements by kind, each member's
due (expected, received, in flight, penalty), each member's status and the order of turns — on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, TypeVar

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.core.errors import AppError
from cauri.core.principal import Principal
from cauri.core.storage import Storage, make_storage
from cauri.ledger import service as ledger
from cauri.tontines import auctions, contributions, passages, service, sessions, statements, swaps
from cauri.tontines.models import TontineDue, TontineMember, TontinePassage
from cauri.tontines.schemas import TontineCreate, TontineRules
from tests.tontines.support import PNG, operator

T = TypeVar("T")
AMOUNT = 10_000
PENALTY = 500
MAX_MEMBERS = 5
PEOPLE = 6  # président, trésorier, and four who may join, leave and come back
OUTCOMES: Counter[str] = Counter()


class Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Due:
    expected: int = AMOUNT
    received: int = 0
    in_flight: int = 0
    penalty: int = 0


@dataclass
class Record:
    id: uuid.UUID
    session: int
    person: int
    amount: int
    status: str = "pending_validation"


def rule_of(error: AppError) -> str:
    return error.errors[0].code if error.errors else error.code


class TontineMachine(RuleBasedStateMachine):
    loop: ClassVar[asyncio.AbstractEventLoop]
    sessionmaker: ClassVar[async_sessionmaker[AsyncSession]]
    storage: ClassVar[Storage]
    organization_id: ClassVar[uuid.UUID]
    users: ClassVar[list[uuid.UUID]]

    def __init__(self) -> None:
        super().__init__()
        self.tontine_id = uuid.uuid4()
        self.pot_id = uuid.uuid4()
        self.status: dict[int, str] = {}  # person -> active | left
        self.sessions: list[tuple[uuid.UUID, str]] = []  # (id, open | closed)
        self.dues: dict[tuple[int, int], Due] = {}
        self.records: list[Record] = []
        self.pot = 0
        self.by_kind: Counter[str] = Counter()
        self.order: list[int] = []  # person per turn (position 1 first); empty until drawn
        self.bids: dict[int, tuple[int, int]] = {}  # person -> (discount, when first placed) on the current turn
        self.awarded = False  # the current turn's auction is closed
        self.placed = 0

    # --- plumbing ---------------------------------------------------------------------------------------------

    def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def unit() -> T:
            async with unit_of_work(self.sessionmaker) as session:
                return await work(session)

        return self.loop.run_until_complete(unit())

    def principal(self, person: int) -> Principal:
        return Principal(user_id=self.users[person], organization_id=self.organization_id, roles=frozenset({"member"}))

    async def access(self, session: AsyncSession, person: int) -> service.Access:
        return await service.access(
            session, principal=self.principal(person), organization_id=self.organization_id, tontine_id=self.tontine_id
        )

    async def member_id(self, session: AsyncSession, person: int) -> uuid.UUID:
        found = await session.scalar(
            select(TontineMember.id).where(
                TontineMember.tontine_id == self.tontine_id, TontineMember.user_id == self.users[person]
            )
        )
        return found or uuid.uuid4()  # someone who never joined: an id the tontine does not know

    def expect(self, call: Callable[[AsyncSession], Awaitable[Any]], predict: Callable[[], None]) -> Any:
        """The model's prediction (raises Refused) and the service's call must agree: success, or the same rule."""
        try:
            predict()
            expected: str | None = None
        except Refused as refused:
            expected = refused.code
        OUTCOMES[expected or "ok"] += 1
        try:
            result = self.run(call)
        except AppError as error:
            assert expected is not None, f"refused ({rule_of(error)}) what the model accepts"
            assert rule_of(error) == expected, f"service said {rule_of(error)}, model {expected}"
            return None
        assert expected is None, f"accepted what the model refuses ({expected})"
        return result

    def active(self) -> list[int]:
        return [p for p, s in self.status.items() if s == "active"]

    # --- rules ------------------------------------------------------------------------------------------------

    @initialize()
    def create(self) -> None:
        body = TontineCreate(
            name="Machine",
            frequency="hebdomadaire",
            start_date=date.today(),
            contribution_amount=AMOUNT,
            currency="XOF",
            rules=TontineRules(max_members=MAX_MEMBERS, penalty_kind="fixed", penalty_amount=PENALTY,
                               allow_partial=True, auction=True, auction_discount="share"),
        )  # fmt: skip

        async def work(session: AsyncSession) -> None:
            created = await service.create_tontine(
                session, principal=self.principal(0), organization_id=self.organization_id, body=body
            )
            self.tontine_id, self.pot_id = created.tontine.id, created.tontine.pot_account_id
            await service.join(
                session,
                principal=self.principal(1),
                organization_id=self.organization_id,
                code=created.tontine.join_code,
            )
            await service.handover(session, created, role="tresorier", member_id=await self.member_id(session, 1))
            await passages.generate(session, created, method="alphabetical", order=None, seed=None)

        self.run(work)
        self.status = {0: "active", 1: "active"}
        self.order = [0, 1]
        self.new_session()  # the first session is open from the start, the président's contribution in the pot
        self.record_for(0, 0, AMOUNT)
        self.run(self.board_of(0))
        self.dues[(0, 0)] = Due(received=AMOUNT)
        self.records[-1].status = "validated"
        self.pot = self.by_kind["tontine.contribution"] = AMOUNT

    def record_for(self, number: int, person: int, amount: int) -> None:
        async def call(session: AsyncSession) -> None:
            row = await contributions.record_cash(
                session, await self.access(session, 1), self.storage, session_id=self.sessions[number][0],
                member_id=await self.member_id(session, person), amount=amount, currency="XOF",
                purpose="contribution", proof=PNG,
            )  # fmt: skip
            self.records.append(Record(row.id, number, person, amount))

        self.run(call)

    def board_of(self, number: int) -> Callable[[AsyncSession], Awaitable[None]]:
        async def call(session: AsyncSession) -> None:
            await contributions.validate_session_cash(session, await self.access(session, 0), self.sessions[number][0])

        return call

    @rule(person=st.integers(2, PEOPLE - 1))
    def join(self, person: int) -> None:
        def predict() -> None:
            if self.status.get(person) == "active":
                raise Refused("already_member")
            if len(self.active()) >= MAX_MEMBERS:
                raise Refused("tontine_full")

        async def call(session: AsyncSession) -> None:
            code = (await self.access(session, 0)).tontine.join_code
            await service.join(
                session, principal=self.principal(person), organization_id=self.organization_id, code=code
            )

        joins = self.status.get(person) != "active" and len(self.active()) < MAX_MEMBERS
        self.expect(call, predict)
        if joins:
            self.status[person] = "active"

    @rule(person=st.integers(2, PEOPLE - 1))
    def leave(self, person: int) -> None:
        in_flight = any(r.person == person and r.status == "pending_validation" for r in self.records)

        def predict() -> None:
            if person not in self.status:
                raise Refused("tontine_not_found")
            if self.status[person] != "active":
                raise Refused("tontine_member_not_found")
            if in_flight:
                raise Refused("contribution_in_flight")

        async def call(session: AsyncSession) -> int:
            settled = await statements.leave(session, await self.access(session, person))
            return settled.paid

        ok = person in self.status and self.status[person] == "active" and not in_flight
        paid = self.expect(call, predict)
        if ok:
            assert paid == sum(r.amount for r in self.records if r.person == person and r.status == "validated")
            self.status[person] = "left"
            for (number, who), due in self.dues.items():
                if who == person and self.sessions[number][1] != "closed":
                    due.expected = due.received

    @precondition(lambda self: len(self.sessions) < 3)
    @rule()
    def new_session(self) -> None:
        async def call(session: AsyncSession) -> uuid.UUID:
            seen = await self.access(session, 1)
            [row] = await sessions.plan_sessions(session, seen, 1)
            await sessions.open_session(session, seen, row.id)
            return row.id

        session_id = self.expect(call, lambda: None)
        number = len(self.sessions)
        self.sessions.append((session_id, "open"))
        for person in self.active():
            self.dues[(number, person)] = Due()

    @precondition(lambda self: bool(self.sessions))
    @rule(data=st.data(), amount=st.sampled_from([AMOUNT, 4_000, 6_000, 2 * AMOUNT]))
    def record(self, data: st.DataObject, amount: int) -> None:
        person = data.draw(st.one_of(st.sampled_from(sorted(self.status)), st.integers(0, PEOPLE - 1)))
        number = data.draw(st.integers(0, len(self.sessions) - 1))
        due = self.dues.get((number, person))

        def predict() -> None:
            if person not in self.status:
                raise Refused("tontine_member_not_found")
            if self.status[person] != "active":
                raise Refused("member_not_active")
            if due is None:
                raise Refused("nothing_due")
            if due.in_flight:
                raise Refused("contribution_in_flight")
            remaining = due.expected - due.received - due.in_flight
            if remaining <= 0:
                raise Refused("nothing_due")
            if amount > remaining:
                raise Refused("amount_above_due")

        async def call(session: AsyncSession) -> uuid.UUID:
            row = await contributions.record_cash(
                session, await self.access(session, 1), self.storage, session_id=self.sessions[number][0],
                member_id=await self.member_id(session, person), amount=amount, currency="XOF",
                purpose="contribution", proof=PNG,
            )  # fmt: skip
            return row.id

        recorded = self.expect(call, predict)
        if recorded is not None:
            assert due is not None
            due.in_flight += amount
            self.records.append(Record(recorded, number, person, amount))

    def pending(self) -> list[Record]:
        return [r for r in self.records if r.status == "pending_validation"]

    @precondition(lambda self: bool(self.pending()))
    @rule(data=st.data(), approve=st.booleans(), own=st.booleans())
    def validate(self, data: st.DataObject, approve: bool, own: bool) -> None:
        record = data.draw(st.sampled_from(self.pending()))
        checker = 1 if own else 0  # the trésorier recorded every cash payment

        def predict() -> None:
            if own:
                raise Refused("maker_checker_violation")

        async def call(session: AsyncSession) -> None:
            await contributions.validate_cash(
                session, await self.access(session, checker), record.id, approve=approve, reason="Billet déchiré"
            )

        self.expect(call, predict)
        if own:
            return
        due = self.dues[(record.session, record.person)]
        due.in_flight -= record.amount
        if approve:
            record.status, due.received = "validated", due.received + record.amount
            self.pot += record.amount
            self.by_kind["tontine.contribution"] += record.amount
        else:
            record.status = "rejected"

    @precondition(lambda self: bool(self.pending()))
    @rule(data=st.data(), own=st.booleans())
    def validate_board(self, data: st.DataObject, own: bool) -> None:
        """A session's cash board validated at once: every record there but the checker's own (the trésorier
        recorded them all, so the trésorier validates none)."""
        number = data.draw(st.sampled_from(sorted({r.session for r in self.pending()})))
        checker = 1 if own else 0

        async def call(session: AsyncSession) -> int:
            seen = await self.access(session, checker)
            return len(await contributions.validate_session_cash(session, seen, self.sessions[number][0]))

        board = [r for r in self.pending() if r.session == number and not own]
        assert self.expect(call, lambda: None) == len(board)
        for record in board:
            due = self.dues[(record.session, record.person)]
            due.in_flight -= record.amount
            record.status, due.received = "validated", due.received + record.amount
            self.pot += record.amount
            self.by_kind["tontine.contribution"] += record.amount

    @precondition(lambda self: any(r.status == "validated" for r in self.records))
    @rule(data=st.data())
    def correct(self, data: st.DataObject) -> None:
        record = data.draw(st.sampled_from([r for r in self.records if r.status == "validated"]))

        async def call(session: AsyncSession) -> None:
            await contributions.correct(session, await self.access(session, 0), record.id, "Erreur de saisie")

        def predict() -> None:
            if record.amount > self.pot:  # the auction's discount left the pot: it cannot pay the correction back
                raise Refused("insufficient_funds")

        refused = record.amount > self.pot
        self.expect(call, predict)
        if refused:
            return
        record.status = "reversed"
        self.dues[(record.session, record.person)].received -= record.amount
        self.pot -= record.amount
        self.by_kind["tontine.correction"] -= record.amount

    @precondition(lambda self: any(state == "open" for _id, state in self.sessions))
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        # An open session mostly; now and then a closed one (closing twice).
        still_open = [n for n, (_id, state) in enumerate(self.sessions) if state == "open"]
        number = data.draw(st.one_of(st.sampled_from(still_open), st.integers(0, len(self.sessions) - 1)))
        session_id, state = self.sessions[number]

        def predict() -> None:
            if state == "closed":
                raise Refused("tontine_wrong_state")

        async def call(session: AsyncSession) -> None:
            await sessions.close_session(session, await self.access(session, 1), session_id)

        self.expect(call, predict)
        if state != "closed":
            self.sessions[number] = (session_id, "closed")
            for (n, _person), due in self.dues.items():
                if n == number:
                    due.penalty = PENALTY if due.received < due.expected else 0

    def late(self, person: int) -> bool:
        return any(
            who == person and self.sessions[n][1] == "closed" and (due.received < due.expected or due.penalty > 0)
            for (n, who), due in self.dues.items()
        )

    @precondition(lambda self: not self.order or self.awarded or len(self.order) < len(self.active()))
    @rule()
    def draw_order(self) -> None:
        def predict() -> None:
            if self.awarded:
                raise Refused("tontine_wrong_state")

        async def call(session: AsyncSession) -> None:
            await passages.generate(
                session, await self.access(session, 0), method="alphabetical", order=None, seed=None
            )

        self.expect(call, predict)
        if not self.awarded:
            self.order = sorted(self.active())  # "Membre 00", "Membre 01"…: the alphabet is the people's order
            self.bids.clear()

    @precondition(lambda self: bool(self.order) and not self.awarded and self.pot > 0)
    @rule(data=st.data(), discount=st.sampled_from([1, 3_000, 10_000, 10**6]))
    def bid(self, data: st.DataObject, discount: int) -> None:
        # Mostly someone with a turn to bid for; now and then anyone (left, late, never joined).
        person = data.draw(st.one_of(st.sampled_from(self.order), st.integers(0, PEOPLE - 1)))

        def predict() -> None:
            if person not in self.status:
                raise Refused("tontine_not_found")
            if self.status[person] != "active":
                raise Refused("tontine_member_not_found")
            if not self.order or self.awarded:
                raise Refused("tontine_wrong_state")
            if person not in self.order:
                raise Refused("already_received")
            if self.late(person):
                raise Refused("member_late")
            if discount > self.pot:
                raise Refused("bid_above_pot")
            if person in self.bids and discount <= self.bids[person][0]:
                raise Refused("bid_not_higher")

        async def call(session: AsyncSession) -> None:
            await auctions.bid(session, await self.access(session, person), discount=discount)

        accepted = self._accepted(predict)
        self.expect(call, predict)
        if accepted:
            first = self.bids.get(person, (0, self.placed))[1]
            self.placed += 1
            self.bids[person] = (discount, first)

    @staticmethod
    def _accepted(predict: Callable[[], None]) -> bool:
        try:
            predict()
        except Refused:
            return False
        return True

    @precondition(lambda self: bool(self.bids) and not self.awarded)
    @rule()
    def close_auction(self) -> None:
        bidders = {p: b for p, b in self.bids.items() if self.status.get(p) == "active"}
        top = max((b[0] for b in bidders.values()), default=0)

        def predict() -> None:
            if not self.order or self.awarded or not bidders:
                raise Refused("tontine_wrong_state")
            if top > self.pot:
                raise Refused("bid_above_pot")

        async def call(session: AsyncSession) -> uuid.UUID:
            turn = await auctions.close(session, await self.access(session, 1))
            return turn.member_id

        accepted = self._accepted(predict)
        winner_id = self.expect(call, predict)
        if not accepted:
            return

        async def person_of(session: AsyncSession) -> int:
            member = await session.get(TontineMember, winner_id)
            assert member is not None
            return self.users.index(member.user_id)

        winner = self.run(person_of)
        assert bidders[winner][0] == top, (winner, bidders)  # the highest bid (the earliest of equal ones)
        theirs = self.order.index(winner)
        self.order[0], self.order[theirs] = winner, self.order[0]
        if any(p != winner for p in self.active()):
            self.pot -= top
            self.by_kind["tontine.auction_share"] -= top
        self.awarded = True
        OUTCOMES["auction awarded"] += 1

    @rule(
        proposer=st.integers(0, PEOPLE - 1),
        partner=st.integers(0, PEOPLE - 1),
        answerer=st.sampled_from(["target", "proposer", "third"]),
        accept=st.booleans(),
    )
    def swap(self, proposer: int, partner: int, answerer: str, accept: bool) -> None:
        def swappable(person: int) -> bool:
            return person in self.order and not (self.awarded and self.order[0] == person)

        def predict_proposal() -> None:
            if proposer not in self.status:
                raise Refused("tontine_not_found")
            if self.status[proposer] != "active":
                raise Refused("tontine_member_not_found")
            if partner not in self.status:
                raise Refused("tontine_member_not_found")
            if partner == proposer or self.status[partner] != "active":
                raise Refused("invalid_swap_partner")
            if not swappable(proposer) or not swappable(partner):
                raise Refused("turn_not_swappable")

        async def propose(session: AsyncSession) -> uuid.UUID:
            target_id = await self.member_id(session, partner)
            return (await swaps.propose(session, await self.access(session, proposer), target_id)).id

        proposed = self._accepted(predict_proposal)
        swap_id = self.expect(propose, predict_proposal)
        if not proposed:
            return
        who = {
            "target": partner,
            "proposer": proposer,
            "third": next((p for p in (0, 1) if p not in (proposer, partner)), None),
        }
        by = who.get(answerer)
        if by is None:  # both managers are in the swap: no third person to try
            return

        def predict_answer() -> None:
            if by != partner and (accept or by != proposer):
                raise Refused("swap_not_accepted_by_other_member")

        async def answer(session: AsyncSession) -> None:
            await swaps.answer(session, await self.access(session, by), swap_id, accept=accept)

        done = self._accepted(predict_answer) and accept
        self.expect(answer, predict_answer)
        if done:
            a, b = self.order.index(proposer), self.order.index(partner)
            self.order[a], self.order[b] = partner, proposer
            OUTCOMES["turns swapped"] += 1

    # --- what must always hold --------------------------------------------------------------------------------

    @invariant()
    def balances_are_the_model_s(self) -> None:
        if not self.status:
            return

        async def read(
            session: AsyncSession,
        ) -> tuple[int, Counter[str], dict[tuple[int, int], Due], dict[int, str], list[int]]:
            pot = (await ledger.balance(session, self.pot_id)).posted
            lines = await ledger.statement(session, self.pot_id, organization_id=self.organization_id, limit=500)
            kinds: Counter[str] = Counter()
            for line in lines.lines:
                kinds[line.code] += line.credit - line.debit
            members = {
                m.user_id: m for m in await session.scalars(
                    select(TontineMember).where(TontineMember.tontine_id == self.tontine_id)
                )
            }  # fmt: skip
            person_of = {m.id: self.users.index(user) for user, m in members.items()}
            number_of = {sid: n for n, (sid, _) in enumerate(self.sessions)}
            dues = {
                (number_of[d.session_id], person_of[d.member_id]): Due(d.expected, d.received, d.in_flight, d.penalty)
                for d in await session.scalars(select(TontineDue).where(TontineDue.tontine_id == self.tontine_id))
            }
            statuses = {self.users.index(user): m.status for user, m in members.items()}
            turns = [
                person_of[member_id]
                for member_id in await session.scalars(
                    select(TontinePassage.member_id)
                    .where(TontinePassage.tontine_id == self.tontine_id)
                    .order_by(TontinePassage.position)
                )
            ]
            return pot, kinds, dues, statuses, turns

        pot, kinds, dues, statuses, turns = self.run(read)
        assert turns == self.order
        assert pot == self.pot
        assert sum(kinds.values()) == pot
        assert +kinds == +self.by_kind and -kinds == -self.by_kind, (kinds, self.by_kind)
        assert dues == self.dues
        assert statuses == self.status


def run_machine(database_url: str, app_settings: Settings, organization_id: uuid.UUID, users: list[uuid.UUID]) -> None:
    loop = asyncio.new_event_loop()
    engine: AsyncEngine = make_engine(database_url, pool_size=2)
    try:
        TontineMachine.loop = loop
        TontineMachine.sessionmaker = make_sessionmaker(engine)
        TontineMachine.storage = make_storage(app_settings)
        TontineMachine.organization_id = organization_id
        TontineMachine.users = users
        run_state_machine_as_test(
            TontineMachine,
            settings=settings(
                max_examples=12,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
            ),
        )
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


async def test_every_balance_is_the_reference_model_s(client: httpx.AsyncClient, payments_settings: Settings) -> None:
    OUTCOMES.clear()
    org = await operator(client, PEOPLE)
    assert org.owner.organization_id is not None
    users = [actor.user_id for actor in org.members]
    await asyncio.to_thread(run_machine, payments_settings.database_url, payments_settings, org.owner.organization_id,
                            users)  # fmt: skip
    print(dict(OUTCOMES))  # shown with -s: how often each outcome was reached
    assert OUTCOMES["ok"] >= 60, OUTCOMES
    assert len(OUTCOMES) >= 6, OUTCOMES
