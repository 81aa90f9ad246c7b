"""The payments module's end-to-end cases of ``test_every_provider`` (a duplicated and a forged callback, a timeout
on the create call, a callback after the poller settled — collections and payouts), run through CinetPay's current
API (``api_version: v1``): JSON notifications carrying the init's ``notify_token``, confirmed by a status query,
transfers as payouts. ``test_every_provider`` runs CinetPay's checkout v2."""

from __future__ import annotations

import pytest

from cauri.connectors.mobile_money.cinetpay import magic_phone
from tests.payments.test_every_provider import (  # noqa: F401 - fixtures and tests run here with this module's profile
    Profile,
    simulators,
    test_a_callback_after_the_poller_settled_changes_nothing,
    test_a_timeout_on_the_create_call_is_settled_later_and_posted_once,
    test_one_payment_under_a_duplicated_and_a_forged_callback_is_posted_once,
    world,
)

CURRENT_API = Profile(
    "cinetpay",
    "XOF",
    2500,
    magic_phone,
    payout_phone=lambda outcome: magic_phone(outcome, "SN"),
    credentials={
        "apikey": "sk_test_every_current_0123456789",
        "api_password": "cp-password-every-current",
        "api_version": "v1",
    },
)


@pytest.fixture
def profile() -> Profile:
    return CURRENT_API
