"""The identity module's failures, each with a stable code and a French and English message."""

from __future__ import annotations

from cauri.core.errors import AppError, Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed, field_error


class InvalidCredentials(Unauthenticated):
    # One answer for an unknown account and a wrong password, so nobody learns which accounts exist.
    code = "invalid_credentials"
    message_fr = "Identifiant ou mot de passe incorrect."
    message_en = "Incorrect login or password."


class AccountDisabled(Forbidden):
    code = "account_disabled"
    message_fr = "Ce compte est désactivé. Contactez votre administrateur."
    message_en = "This account is disabled. Contact your administrator."


class InvalidRefreshToken(Unauthenticated):
    code = "invalid_refresh_token"
    message_fr = "Session expirée ou invalide. Reconnectez-vous."
    message_en = "Session expired or invalid. Please log in again."


class NoLoginSession(AppError):
    status = 400
    code = "no_login_session"
    message_fr = "Cette action demande une session ouverte avec un mot de passe, pas une clé d'API."
    message_en = "This action needs a session opened with a password, not an API key."


class OrganizationNotFound(NotFound):
    code = "organization_not_found"
    message_fr = "Organisation introuvable."
    message_en = "Organisation not found."


class MemberNotFound(NotFound):
    code = "member_not_found"
    message_fr = "Membre introuvable."
    message_en = "Member not found."


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    message_fr = "Clé d'API introuvable."
    message_en = "API key not found."


class LastOwner(Conflict):
    code = "last_owner"
    message_fr = "Une organisation doit garder au moins un propriétaire."
    message_en = "An organisation must keep at least one owner."


class OwnerOnly(Forbidden):
    code = "owner_only"
    message_fr = "Seul un propriétaire peut donner ou retirer le rôle de propriétaire."
    message_en = "Only an owner can grant or take away the owner role."


def email_or_phone_required() -> ValidationFailed:
    return field_error(
        "email",
        "email_or_phone_required",
        "Indiquez une adresse e-mail ou un numéro de téléphone.",
        "Give an e-mail address or a phone number.",
    )


def email_or_phone_not_both() -> ValidationFailed:
    return field_error(
        "phone",
        "email_or_phone_not_both",
        "Indiquez une adresse e-mail ou un numéro de téléphone, pas les deux.",
        "Give an e-mail address or a phone number, not both.",
    )


def already_taken(field: str) -> Conflict:
    what_fr, what_en = (
        ("Cette adresse e-mail", "This e-mail address") if field == "email" else ("Ce numéro", "This number")
    )
    return Conflict(
        f"{what_fr} est déjà utilisé par un compte.",
        f"{what_en} is already used by an account.",
        code=f"{field}_taken",
        field=field,
    )


def wrong_current_password() -> ValidationFailed:
    return field_error(
        "current_password", "wrong_password", "Mot de passe actuel incorrect.", "Current password is incorrect."
    )


def code_expired() -> ValidationFailed:
    return field_error(
        "code",
        "code_expired",
        "Code expiré ou inconnu. Demandez-en un nouveau.",
        "Code expired or unknown. Ask for a new one.",
    )


def code_wrong(attempts_left: int) -> ValidationFailed:
    error = field_error(
        "code",
        "invalid_code",
        f"Code incorrect. Essais restants : {attempts_left}.",
        f"Incorrect code. Attempts left: {attempts_left}.",
    )
    error.extra = {"attempts_left": attempts_left}
    return error


def code_attempts_exhausted() -> ValidationFailed:
    return field_error(
        "code",
        "code_attempts_exhausted",
        "Trop d'essais : ce code n'est plus valable. Demandez-en un nouveau.",
        "Too many attempts: this code is no longer valid. Ask for a new one.",
    )
