"""Errors of tontines, each with a stable code, the field at fault and its French and English wording."""

from __future__ import annotations

from cauri.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error


class TontineNotFound(NotFound):
    code = "tontine_not_found"
    message_fr = "Tontine introuvable."
    message_en = "Tontine not found."


class MemberNotFound(NotFound):
    code = "tontine_member_not_found"
    message_fr = "Membre de la tontine introuvable."
    message_en = "Tontine member not found."


class SessionNotFound(NotFound):
    code = "tontine_session_not_found"
    message_fr = "Séance introuvable."
    message_en = "Session not found."


class ContributionNotFound(NotFound):
    code = "tontine_contribution_not_found"
    message_fr = "Cotisation introuvable."
    message_en = "Contribution not found."


class PassageNotFound(NotFound):
    code = "tontine_passage_not_found"
    message_fr = "Tour de passage introuvable."
    message_en = "Payout turn not found."


class SwapNotFound(NotFound):
    code = "tontine_swap_not_found"
    message_fr = "Échange de tours introuvable."
    message_en = "Swap of turns not found."


class LoanNotFound(NotFound):
    code = "tontine_loan_not_found"
    message_fr = "Prêt introuvable."
    message_en = "Loan not found."


class GrantNotFound(NotFound):
    code = "tontine_grant_not_found"
    message_fr = "Aide de la caisse sociale introuvable."
    message_en = "Social-fund grant not found."


class NotYourSwap(Forbidden):
    code = "swap_not_accepted_by_other_member"
    message_fr = "Un échange de tours n'est fait que si l'autre membre l'accepte lui-même."
    message_en = "A swap of turns is made only when the other member accepts it themselves."


class NotAManager(Forbidden):
    code = "tontine_manager_required"
    message_fr = "Seuls le président et le trésorier de la tontine peuvent faire cela."
    message_en = "Only the tontine's president and treasurer may do this."


class NotThePresident(Forbidden):
    code = "tontine_president_required"
    message_fr = "Seul le président de la tontine peut faire cela."
    message_en = "Only the tontine's president may do this."


class OwnRecord(Forbidden):
    code = "maker_checker_violation"
    message_fr = "Vous avez enregistré ce paiement : un autre responsable doit le valider ou le rejeter."
    message_en = "You recorded this payment: another manager must validate or reject it."

    def __init__(self) -> None:
        super().__init__(field="contribution_id")


class LoanMakerChecker(Forbidden):
    code = "maker_checker_violation"
    message_fr = "Un autre membre du bureau que l'emprunteur et le demandeur doit décider de ce prêt."
    message_en = "A committee member other than the borrower and the asker must decide on this loan."

    def __init__(self) -> None:
        super().__init__(field="loan_id")


class GrantMakerChecker(Forbidden):
    code = "maker_checker_violation"
    message_fr = "Un autre responsable que celui qui l'a proposée et que le bénéficiaire doit décider de cette aide."
    message_en = "A manager other than the one who proposed it and the beneficiary must decide on this grant."

    def __init__(self) -> None:
        super().__init__(field="grant_id")


class WrongState(Conflict):
    code = "tontine_wrong_state"


def wrong_state(what_fr: str, what_en: str, state: str, *, field: str | None = None) -> WrongState:
    return WrongState(
        f"{what_fr} (état actuel : {state}).",
        f"{what_en} (current state: {state}).",
        field=field,
        extra={"state": state},
    )


def invalid(field: str, code: str, message_fr: str, message_en: str) -> ValidationFailed:
    return field_error(field, code, message_fr, message_en)
