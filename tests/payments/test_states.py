"""The payment state machine: what can follow what, whatever the order providers report things in."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cauri.payments.states import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    ImpossibleTransition,
    Status,
    can_transition,
    check_transition,
)

MONEY_NEVER_MOVED = {Status.FAILED, Status.EXPIRED, Status.CANCELLED}


def walk(targets: list[Status]) -> list[Status]:
    """Feed reported statuses to the machine from ``created``; impossible ones are refused and ignored."""
    path = [Status.CREATED]
    for target in targets:
        try:
            check_transition(path[-1], target)
        except ImpossibleTransition:
            continue
        path.append(target)
    return path


@given(st.lists(st.sampled_from(list(Status)), max_size=30))
def test_any_sequence_of_reports_gives_a_sane_history(targets: list[Status]) -> None:
    path = walk(targets)
    # Each status is entered at most once: no loop can post money twice.
    assert len(path) == len(set(path))
    # Once settled without money moving, nothing follows; but a success reported after our expiry (the money did
    # move at the provider) is booked late.
    for position, status in enumerate(path):
        if status in MONEY_NEVER_MOVED and position < len(path) - 1:
            assert (status, path[position + 1]) == (Status.EXPIRED, Status.SUCCEEDED), path
    # A reversal or refund is only ever of a success (possibly already partly refunded).
    for before, after in itertools.pairwise(path):
        if after in (Status.REVERSED, Status.REFUNDED):
            assert before in (Status.SUCCEEDED, Status.PARTIALLY_REFUNDED)
        if after is Status.PARTIALLY_REFUNDED:
            assert before is Status.SUCCEEDED
    # Success comes at most once and only from an open status (or late, after our expiry).
    if Status.SUCCEEDED in path:
        index = path.index(Status.SUCCEEDED)
        assert path[index - 1] in (Status.CREATED, Status.PENDING, Status.EXPIRED)


@given(st.sampled_from(list(Status)), st.sampled_from(list(Status)))
def test_refused_transitions_name_both_statuses(current: Status, target: Status) -> None:
    if can_transition(current, target):
        check_transition(current, target)
        return
    with pytest.raises(ImpossibleTransition) as refused:
        check_transition(current, target)
    assert refused.value.status == 409
    assert refused.value.extra == {"current_status": current.value, "requested_status": target.value}


def test_every_final_status_is_reachable_from_created() -> None:
    reachable = {Status.CREATED}
    frontier = [Status.CREATED]
    while frontier:
        current = frontier.pop()
        for target in ALLOWED_TRANSITIONS[current]:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(Status)
    assert reachable >= FINAL_STATUSES


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.SUCCEEDED, Status.FAILED),
        (Status.SUCCEEDED, Status.PENDING),
        (Status.FAILED, Status.SUCCEEDED),
        (Status.EXPIRED, Status.PENDING),
        (Status.EXPIRED, Status.FAILED),
        (Status.PENDING, Status.CREATED),
        (Status.CREATED, Status.REFUNDED),
        (Status.PENDING, Status.PARTIALLY_REFUNDED),
        (Status.REFUNDED, Status.PARTIALLY_REFUNDED),
        (Status.PARTIALLY_REFUNDED, Status.SUCCEEDED),
        (Status.REVERSED, Status.SUCCEEDED),
    ],
)
def test_impossible_transitions_are_refused(current: Status, target: Status) -> None:
    with pytest.raises(ImpossibleTransition):
        check_transition(current, target)
