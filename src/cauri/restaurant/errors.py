"""The restaurant hub's problems (RFC 9457, French and English, naming the field at fault)."""

from __future__ import annotations

from cauri.core.errors import AppError, Conflict, NotFound, ValidationFailed, field_error


def unknown_provider(provider: str) -> NotFound:
    return NotFound(
        f"Fournisseur de restaurant inconnu : « {provider} ».",
        f"Unknown restaurant provider: '{provider}'.",
        code="restaurant_provider_unknown",
        field="provider",
    )


def provider_not_configured(provider: str) -> AppError:
    return AppError(
        f"L'application « {provider} » de la plateforme n'est pas configurée (identifiant client).",
        f"The platform's '{provider}' application is not configured (client id).",
        code="restaurant_provider_not_configured",
        status=503,
    )


def not_connected(provider: str) -> NotFound:
    return NotFound(
        f"Le restaurant n'est pas connecté à « {provider} ».",
        f"The restaurant is not connected to '{provider}'.",
        code="restaurant_not_connected",
    )


def state_invalid() -> ValidationFailed:
    return field_error(
        "state",
        "oauth_state_invalid",
        "Autorisation refusée : ce lien de retour ne correspond à aucune connexion en cours. Recommencez.",
        "Authorisation refused: this callback matches no connection in progress. Start again.",
    )


def state_replayed() -> ValidationFailed:
    return field_error(
        "state",
        "oauth_state_replayed",
        "Autorisation refusée : ce lien de retour a déjà été utilisé. Recommencez la connexion.",
        "Authorisation refused: this callback was already used. Start the connection again.",
    )


def state_expired() -> ValidationFailed:
    return field_error(
        "state",
        "oauth_state_expired",
        "Autorisation refusée : le délai est dépassé. Recommencez la connexion.",
        "Authorisation refused: it took too long. Start the connection again.",
    )


def authorization_denied(error: str) -> ValidationFailed:
    return field_error(
        "error",
        "oauth_denied",
        f"Le fournisseur n'a pas accordé l'accès ({error[:60]}).",
        f"The provider did not grant access ({error[:60]}).",
    )


def reauthorization_required(provider: str) -> Conflict:
    return Conflict(
        f"« {provider} » a refusé nos jetons : un responsable doit reconnecter le restaurant.",
        f"'{provider}' refused our tokens: a manager must connect the restaurant again.",
        code="restaurant_reauthorization_required",
    )


def refresh_busy(provider: str) -> AppError:
    return AppError(
        f"Le renouvellement du jeton « {provider} » prend trop de temps ; réessayez.",
        f"Renewing the '{provider}' token is taking too long; try again.",
        code="restaurant_token_refresh_busy",
        status=503,
    )


def unknown_sync_kind(kind: str, kinds: list[str]) -> ValidationFailed:
    return field_error(
        "kind",
        "restaurant_sync_kind_unknown",
        f"Type d'objet à synchroniser inconnu : « {kind} » (attendu : {', '.join(kinds)}).",
        f"Unknown object kind to sync: '{kind}' (expected: {', '.join(kinds)}).",
    )


def sync_running(kind: str) -> Conflict:
    return Conflict(
        f"Une synchronisation « {kind} » est déjà en cours pour cette connexion.",
        f"A '{kind}' sync is already running for this connection.",
        code="restaurant_sync_running",
    )


def overbooked(service: str, capacity: int, booked: int, party_size: int) -> Conflict:
    left = max(capacity - booked, 0)
    return Conflict(
        f"Complet : le service « {service} » a {capacity} couverts, {booked} sont réservés ; "
        f"il en reste {left}, pas {party_size}.",
        f"Fully booked: the '{service}' service seats {capacity}, {booked} are booked; {left} left, not {party_size}.",
        code="restaurant_overbooked",
        field="party_size",
        extra={"capacity": capacity, "booked": booked, "available": left},
    )


def no_service(starts_at: str) -> ValidationFailed:
    return field_error(
        "starts_at",
        "restaurant_no_service",
        f"Le restaurant n'a pas de service à cette heure ({starts_at}).",
        f"The restaurant serves no meal at that time ({starts_at}).",
    )


def unknown_channel(name: str) -> NotFound:
    return NotFound(
        f"Canal de réservation inconnu ou non configuré : « {name} ».",
        f"Unknown or unconfigured booking channel: '{name}'.",
        code="restaurant_channel_unknown",
        field="channel",
    )


def reservation_not_found() -> NotFound:
    return NotFound("Réservation introuvable.", "Reservation not found.", code="restaurant_reservation_not_found")
