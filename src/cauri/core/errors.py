"""One error tree and one RFC 9457 ``application/problem+json`` answer for every failure.

Services raise :class:`AppError` subclasses (never ``HTTPException``); the handlers installed by
:func:`install_error_handlers` turn them, FastAPI's validation errors and Starlette's HTTP errors into problem
documents with a stable ``code``, the field at fault and a message in the caller's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cauri.core.i18n import current_language, pick

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message_fr: str
    message_en: str

    def render(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": pick(self.message_fr, self.message_en)}


class AppError(Exception):
    """A failure the caller can understand and act on."""

    status: int = 400
    code: str = "bad_request"
    message_fr: str = "Requête invalide."
    message_en: str = "Bad request."

    def __init__(
        self,
        message_fr: str | None = None,
        message_en: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message_fr = message_fr or self.message_fr
        self.message_en = message_en or message_fr or self.message_en
        self.code = code or self.code
        self.status = status or self.status
        self.field = field
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(f"{self.code}: {self.message_en}")

    @property
    def message(self) -> str:
        return pick(self.message_fr, self.message_en)


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"
    message_fr = "Certaines données sont invalides."
    message_en = "Some data is invalid."


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"
    message_fr = "Connexion requise."
    message_en = "Authentication required."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(*args, **kwargs)


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    message_fr = "Vous n'avez pas le droit de faire cela."
    message_en = "You are not allowed to do this."


class NotFound(AppError):
    status = 404
    code = "not_found"
    message_fr = "Introuvable."
    message_en = "Not found."


class Conflict(AppError):
    status = 409
    code = "conflict"
    message_fr = "Conflit avec l'état actuel."
    message_en = "Conflict with the current state."


class TooManyRequests(AppError):
    status = 429
    code = "rate_limited"
    message_fr = "Trop de tentatives. Réessayez plus tard."
    message_en = "Too many attempts. Try again later."


class ServiceUnavailable(AppError):
    status = 503
    code = "unavailable"
    message_fr = "Service momentanément indisponible."
    message_en = "Service temporarily unavailable."


def field_error(field: str, code: str, message_fr: str, message_en: str) -> ValidationFailed:
    """A 422 naming one field; the usual way a service rejects one bad value."""
    return ValidationFailed(
        message_fr, message_en, field=field, errors=[FieldError(field, code, message_fr, message_en)]
    )


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    field: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://docs.cauri.africa/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
        body.setdefault("field", errors[0]["field"])
    if extra:
        body.update(extra)
    response = JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
    response.headers["Content-Language"] = current_language.get()
    return response


# French (and English) wording for pydantic's error types; others fall back to pydantic's English message.
_PYDANTIC_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("Ce champ est obligatoire.", "This field is required."),
    "string_type": ("Une chaîne de caractères est attendue.", "A string is expected."),
    "string_too_short": ("Texte trop court.", "Text too short."),
    "string_too_long": ("Texte trop long.", "Text too long."),
    "string_pattern_mismatch": ("Format invalide.", "Invalid format."),
    "int_type": ("Un nombre entier est attendu.", "An integer is expected."),
    "int_parsing": ("Un nombre entier est attendu.", "An integer is expected."),
    "int_from_float": ("Un nombre entier est attendu, sans décimales.", "A whole number is expected."),
    "float_parsing": ("Un nombre est attendu.", "A number is expected."),
    "bool_parsing": ("Vrai ou faux est attendu.", "A boolean is expected."),
    "bool_type": ("Vrai ou faux est attendu.", "A boolean is expected."),
    "greater_than": ("Valeur trop petite.", "Value too small."),
    "greater_than_equal": ("Valeur trop petite.", "Value too small."),
    "less_than": ("Valeur trop grande.", "Value too large."),
    "less_than_equal": ("Valeur trop grande.", "Value too large."),
    "literal_error": ("Valeur non autorisée.", "Value not allowed."),
    "enum": ("Valeur non autorisée.", "Value not allowed."),
    "uuid_parsing": ("Identifiant invalide.", "Invalid identifier."),
    "uuid_type": ("Identifiant invalide.", "Invalid identifier."),
    "value_error": ("Valeur invalide.", "Invalid value."),
    "json_invalid": ("Le corps n'est pas un JSON valide.", "The body is not valid JSON."),
    "model_attributes_type": ("Un objet JSON est attendu.", "A JSON object is expected."),
    "dict_type": ("Un objet JSON est attendu.", "A JSON object is expected."),
    "model_type": ("Un objet JSON est attendu.", "A JSON object is expected."),
    "list_type": ("Une liste est attendue.", "A list is expected."),
    "extra_forbidden": ("Champ inconnu.", "Unknown field."),
    "datetime_parsing": ("Date et heure invalides.", "Invalid date and time."),
    "datetime_from_date_parsing": ("Date et heure invalides.", "Invalid date and time."),
    "date_parsing": ("Date invalide.", "Invalid date."),
    "date_from_datetime_parsing": ("Date invalide.", "Invalid date."),
    "url_parsing": ("Adresse web invalide.", "Invalid URL."),
    "url_scheme": ("Adresse web invalide.", "Invalid URL."),
    "decimal_parsing": ("Un nombre est attendu.", "A number is expected."),
}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def translate_validation_errors(errors: list[Any]) -> list[FieldError]:
    translated = []
    for error in errors:
        kind = str(error.get("type", "value_error"))
        # Invalid JSON is located by character offset ("body", 39): the field at fault is the body itself.
        field = "body" if kind == "json_invalid" else _field_path(tuple(error.get("loc", ())))
        ctx = error.get("ctx") or {}
        original = str(error.get("msg", "Invalid value."))
        fr, en = _PYDANTIC_MESSAGES.get(kind, (original, original))
        if kind == "value_error" and "error" in ctx:
            # Our own validators raise ValueError("fr|en"); pydantic prefixes "Value error, ".
            raw = str(ctx["error"])
            fr, _, en = raw.partition("|")
            en = en or fr
        elif kind == "missing" and field == "body":
            fr, en = "Le corps de la requête est vide.", "The request body is empty."
        elif "limit_value" in ctx or "ge" in ctx or "gt" in ctx:
            bound = ctx.get("limit_value", ctx.get("ge", ctx.get("gt")))
            fr, en = f"{fr} (limite : {bound})", f"{en} (limit: {bound})"
        elif "expected" in ctx:
            fr, en = f"{fr} Attendu : {ctx['expected']}.", f"{en} Expected: {ctx['expected']}."
        translated.append(FieldError(field, kind, fr, en))
    return translated


async def handle_app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status >= 500:
        log.warning("app_error", code=exc.code, status=exc.status)
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.code.replace("_", " "),
        detail=exc.message,
        field=exc.field,
        errors=[e.render() for e in exc.errors],
        headers=exc.headers,
        extra=exc.extra,
    )


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    failed = ValidationFailed(errors=translate_validation_errors(list(exc.errors())))
    return await handle_app_error(request, failed)


_HTTP_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Requête invalide.", "Bad request."),
    401: ("unauthenticated", "Connexion requise.", "Authentication required."),
    403: ("forbidden", "Accès refusé.", "Access denied."),
    404: ("not_found", "Introuvable.", "Not found."),
    405: ("method_not_allowed", "Méthode non autorisée.", "Method not allowed."),
    413: ("payload_too_large", "Requête trop volumineuse.", "Payload too large."),
    415: ("unsupported_media_type", "Type de contenu non pris en charge.", "Unsupported media type."),
}


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, fr, en = _HTTP_MESSAGES.get(exc.status_code, ("http_error", str(exc.detail), str(exc.detail)))
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title=code.replace("_", " "),
        detail=pick(fr, en),
        headers=dict(exc.headers or {}),
    )


async def handle_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return problem_response(
        request,
        status=500,
        code="internal_error",
        title="internal error",
        detail=pick(
            "Erreur interne. L'équipe technique a été prévenue.",
            "Internal error. The technical team has been notified.",
        ),
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, handle_app_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
