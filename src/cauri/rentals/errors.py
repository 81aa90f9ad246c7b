"""Errors of the rentals marketplace, each with a stable code and its French and English wording."""

from __future__ import annotations

from cauri.core.errors import Conflict, Forbidden, NotFound, TooManyRequests, field_error


class PropertyNotFound(NotFound):
    code = "rental_property_not_found"
    message_fr = "Logement introuvable."
    message_en = "Property not found."


class BookingNotFound(NotFound):
    code = "rental_booking_not_found"
    message_fr = "Réservation introuvable."
    message_en = "Booking not found."


class ImageNotFound(NotFound):
    code = "rental_image_not_found"
    message_fr = "Image introuvable."
    message_en = "Image not found."


class NotAllowed(Forbidden):
    code = "rental_forbidden"
    message_fr = "Votre rôle ne permet pas cette action sur la place de marché."
    message_en = "Your role does not allow this action on the marketplace."


class DatesTaken(Conflict):
    """Another booking already holds some of these nights (the database refused the overlap)."""

    code = "rental_dates_unavailable"
    message_fr = "Ces dates ne sont plus disponibles pour ce logement."
    message_en = "These dates are no longer available for this property."

    def __init__(self) -> None:
        super().__init__(field="start_date")


class WrongBookingState(Conflict):
    code = "rental_booking_wrong_state"

    def __init__(self, status: str, action_fr: str, action_en: str) -> None:
        super().__init__(
            f"Impossible de {action_fr} une réservation à l'état « {status} ».",
            f"Cannot {action_en} a booking in state '{status}'.",
            extra={"status": status},
        )


class PropertyNotBookable(Conflict):
    code = "rental_property_not_bookable"
    message_fr = "Ce logement n'est pas ouvert à la réservation."
    message_en = "This property is not open for booking."

    def __init__(self) -> None:
        super().__init__(field="property_id")


def dates_reversed(field: str = "end_date") -> Exception:
    return field_error(
        field,
        "dates_reversed",
        "La date de fin doit être postérieure à la date de début.",
        "The end date must be after the start date.",
    )


def price_range_reversed() -> Exception:
    return field_error(
        "min_price",
        "price_range_reversed",
        "Le prix minimum dépasse le prix maximum.",
        "The minimum price is above the maximum price.",
    )


def too_many_images(limit: int) -> Exception:
    return field_error(
        "files",
        "too_many_files",
        f"Au plus {limit} images par envoi.",
        f"At most {limit} images per upload.",
    )


class ConversationNotFound(NotFound):
    code = "rental_conversation_not_found"
    message_fr = "Conversation introuvable."
    message_en = "Conversation not found."


class MessageNotFound(NotFound):
    code = "rental_message_not_found"
    message_fr = "Message introuvable."
    message_en = "Message not found."


class MessageNotAllowed(Forbidden):
    """Only people linked by a booking or a booking request may write to each other."""

    code = "rental_message_not_allowed"
    message_fr = "Vous ne pouvez écrire qu'à une personne avec qui vous avez une réservation ou une demande."
    message_en = "You can only write to someone you have a booking or a booking request with."

    def __init__(self, field: str = "recipient_id") -> None:
        super().__init__(field=field)


class MessagesRateLimited(TooManyRequests):
    code = "rental_messages_rate_limited"
    message_fr = "Trop de messages envoyés. Patientez un instant."
    message_en = "Too many messages sent. Please wait a moment."

    def __init__(self, retry_after: float) -> None:
        super().__init__(headers={"Retry-After": str(max(1, round(retry_after)))})


class ListingSuspended(Conflict):
    """An admin suspended this listing (rentals.admin): its landlord cannot republish it."""

    code = "rental_listing_suspended"

    def __init__(self, reason: str | None) -> None:
        super().__init__(
            f"Ce logement est suspendu par la modération : {reason or 'sans motif'}.",
            f"This listing is suspended by moderation: {reason or 'no reason given'}.",
            field="status",
            extra={"reason": reason},
        )


class ProfileNotFound(NotFound):
    code = "rental_person_not_found"
    message_fr = "Personne introuvable sur la place de marché."
    message_en = "Person not found on the marketplace."


class VerificationNotFound(NotFound):
    code = "rental_verification_not_found"
    message_fr = "Demande de vérification introuvable."
    message_en = "Verification request not found."


class ReviewNotFound(NotFound):
    code = "rental_review_not_found"
    message_fr = "Avis introuvable."
    message_en = "Review not found."


class VerificationPending(Conflict):
    code = "rental_verification_pending"
    message_fr = "Une demande de vérification est déjà en cours d'examen."
    message_en = "A verification request is already under review."


class AlreadyVerified(Conflict):
    code = "rental_already_verified"
    message_fr = "Votre identité est déjà vérifiée."
    message_en = "Your identity is already verified."


class VerificationDecided(Conflict):
    code = "rental_verification_decided"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"Cette demande est déjà traitée (« {status} »).",
            f"This request was already decided ('{status}').",
            extra={"status": status},
        )


class OwnRequest(Forbidden):
    """Maker-checker: an admin never decides their own verification."""

    code = "rental_own_request"
    message_fr = "Vous ne pouvez pas décider de votre propre demande de vérification."
    message_en = "You cannot decide your own verification request."


def admins_only() -> Exception:
    return NotAllowed(
        "Seuls les administrateurs de la place de marché ont accès à cette fonction.",
        "Only the marketplace's administrators can do this.",
    )


class ServiceRequestNotFound(NotFound):
    code = "rental_service_request_not_found"
    message_fr = "Demande de service introuvable."
    message_en = "Service request not found."


class QuoteNotFound(NotFound):
    code = "rental_quote_not_found"
    message_fr = "Devis introuvable."
    message_en = "Quote not found."


class ProviderNotFound(NotFound):
    code = "rental_provider_not_found"
    message_fr = "Prestataire introuvable."
    message_en = "Service provider not found."


class WrongServiceRequestState(Conflict):
    code = "rental_service_request_wrong_state"

    def __init__(self, status: str, action_fr: str, action_en: str) -> None:
        super().__init__(
            f"Impossible de {action_fr} une demande de service à l'état « {status} ».",
            f"Cannot {action_en} a service request in state '{status}'.",
            field="request_id",
            extra={"status": status},
        )


class QuoteNotPending(Conflict):
    """Only a pending quote can be accepted (a rejected one stays rejected)."""

    code = "rental_quote_not_pending"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"Ce devis ne peut plus être accepté (état « {status} »).",
            f"This quote can no longer be accepted (state '{status}').",
            field="quote_id",
            extra={"status": status},
        )


def own_request() -> Exception:
    return field_error(
        "request_id",
        "own_request",
        "Vous ne pouvez pas faire un devis pour votre propre demande.",
        "You cannot quote on your own request.",
    )
