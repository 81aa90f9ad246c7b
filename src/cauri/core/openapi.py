"""The OpenAPI description, made complete and truthful in one place instead of route by route.

FastAPI describes what a route *returns*; it does not know what our middleware-like dependencies add to every
route. :func:`install_openapi` post-processes the generated schema once, walking the real routes:

* security schemes (bearer JWT, ``X-API-Key``, the OAuth 2 password flow behind ``/docs``' Authorize button) on
  every operation that needs a login (those whose dependencies include :func:`require_principal`);
* the headers the app reads: ``Accept-Language`` everywhere, ``X-Organization-ID`` where a login is needed,
  ``Idempotency-Key`` on mutating operations guarded by :func:`idempotency_guard`;
* every error status an operation can answer, each as ``application/problem+json`` with the ``Problem`` schema.
  The statuses follow from what the operation is (see :func:`error_statuses`); a route adds the rare ones it
  alone can answer (a throttle's 429, a provider's 502) with ``responses={429: {}}`` and gets the same schema.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles

from cauri.core.errors import PROBLEM_JSON
from cauri.core.idempotency import HEADER as IDEMPOTENCY_HEADER
from cauri.core.idempotency import MUTATING_METHODS, idempotency_guard
from cauri.core.principal import require_principal

# The headers identity's resolver reads (the core cannot import identity: arrows point down).
ORGANIZATION_HEADER = "X-Organization-ID"
API_KEY_HEADER = "X-API-Key"
BEARER_SCHEME = "bearerAuth"
API_KEY_SCHEME = "apiKeyAuth"
OAUTH2_SCHEME = "oauth2Password"
PROBLEM_SCHEMA_NAME = "Problem"

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "description": "RFC 9457 problem details; `code` is stable, `detail` is in the caller's language.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable error code"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "field": {"type": "string", "description": "The field, parameter or header at fault"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request: the action does not apply (problem `code` says why)",
    401: "Missing, invalid, expired or revoked credentials",
    403: "Logged in, but not allowed (role, organisation membership)",
    404: "Not found, or not in the caller's organisation",
    405: "Method not allowed",
    409: "Conflict with the current state, or the same Idempotency-Key still in progress",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input: `field` and `errors` name what is wrong",
    429: "Too many attempts: retry after the `Retry-After` header",
    500: "Internal error",
    502: "The payment provider failed or answered something unexpected",
    503: "Temporarily unavailable (database busy, provider down): retry after `Retry-After`",
    504: "The payment provider did not answer in time",
}

_HEADER_PARAMETERS: dict[str, dict[str, Any]] = {
    "Accept-Language": {
        "name": "Accept-Language",
        "in": "header",
        "required": False,
        "description": "Language of messages and errors: `fr` (default) or `en`",
        "schema": {"type": "string", "example": "fr"},
    },
    ORGANIZATION_HEADER: {
        "name": ORGANIZATION_HEADER,
        "in": "header",
        "required": False,
        "description": "The organisation to act for (a user's oldest membership when absent; API keys: their own)",
        "schema": {"type": "string", "format": "uuid"},
    },
    IDEMPOTENCY_HEADER: {
        "name": IDEMPOTENCY_HEADER,
        "in": "header",
        "required": False,
        "description": "Any unique string: a retry with the same key and body returns the first answer",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    },
}


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API route as the app runs it: the included routers' dependencies are part of its ``dependant``."""
    return [
        cast(APIRoute, context)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def _calls(dependant: Dependant, function: Callable[..., Any]) -> bool:
    return any(sub.call is function or _calls(sub, function) for sub in dependant.dependencies)


def _has_path_parameters(route: APIRoute) -> bool:
    return bool(route.dependant.path_params)


def error_statuses(route: APIRoute, method: str) -> set[int]:
    """The error statuses any operation of this kind can answer, whatever its own logic.

    * 401, 403: a credential that is present but wrong is refused even on public routes, and an
      ``X-Organization-ID`` the caller is no member of is a 403;
    * 422: bad parameters, body or headers; 503: a busy database (a retry is safe);
    * 404: an object named in the path, or any object looked up for a logged-in caller;
    * 400, 409: a mutation can be refused by the object's state (or its form body be unparseable) or collide
      with another one (or with a request carrying the same ``Idempotency-Key``).

    Nothing answers 413 or 415 today (a body of the wrong type is a 422 naming it), so they are not listed.
    """
    statuses = {401, 403, 422, 503}
    protected = _calls(route.dependant, require_principal)
    if protected or _has_path_parameters(route):
        statuses.add(404)
    if method.upper() in MUTATING_METHODS:
        statuses |= {400, 409}
    return statuses


def _problem_response(status: int, existing: dict[str, Any] | None) -> dict[str, Any]:
    response = dict(existing or {})
    if status == 422 or "content" not in response:
        # FastAPI's own 422 describes its HTTPValidationError body, which our handler never sends.
        response["content"] = {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}}}
    if not response.get("description") or response["description"] in ("Additional Response", "Validation Error"):
        response["description"] = STATUS_DESCRIPTIONS.get(status, "Error")
    return response


def _add_parameters(operation: dict[str, Any], names: list[str]) -> None:
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    present = {(p.get("in"), str(p.get("name", "")).lower()) for p in parameters}
    for name in names:
        if ("header", name.lower()) not in present:
            parameters.append(dict(_HEADER_PARAMETERS[name]))


def _complete_operation(route: APIRoute, method: str, operation: dict[str, Any], is_api: bool) -> None:
    protected = _calls(route.dependant, require_principal)
    headers = ["Accept-Language"]
    if protected:
        headers.append(ORGANIZATION_HEADER)
        operation["security"] = [{BEARER_SCHEME: []}, {API_KEY_SCHEME: []}, {OAUTH2_SCHEME: []}]
    if method.upper() in MUTATING_METHODS and _calls(route.dependant, idempotency_guard):
        headers.append(IDEMPOTENCY_HEADER)
    _add_parameters(operation, headers)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = error_statuses(route, method) if is_api else set()
    statuses |= {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    for status in statuses:
        responses[str(status)] = _problem_response(status, responses.get(str(status)))
    operation["responses"] = dict(sorted(responses.items()))


def security_schemes(token_url: str) -> dict[str, Any]:
    return {
        BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        API_KEY_SCHEME: {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
        OAUTH2_SCHEME: {
            "type": "oauth2",
            "description": "Swagger's login form: username is your e-mail or phone number",
            "flows": {"password": {"tokenUrl": token_url, "scopes": {}}},
        },
    }


def complete_schema(
    app: FastAPI, schema: dict[str, Any], *, api_prefixes: tuple[str, ...], token_url: str
) -> dict[str, Any]:
    """Add security, headers and problem responses to ``schema`` (generated from ``app``'s routes)."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(security_schemes(token_url))
    schemas = components.setdefault("schemas", {})
    schemas[PROBLEM_SCHEMA_NAME] = _PROBLEM_SCHEMA
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        item = schema.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is not None:
                _complete_operation(route, method, operation, route.path_format.startswith(api_prefixes))
    # Nothing refers to FastAPI's validation error bodies any more: our handler answers problems instead.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def install_openapi(app: FastAPI, *, api_prefixes: tuple[str, ...], token_url: str) -> None:
    """Replace ``app.openapi`` by a cached generator of the completed schema; routes under ``api_prefixes`` are
    API operations (their errors documented), the others pages and probes."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                separate_input_output_schemas=app.separate_input_output_schemas,
            )
            app.openapi_schema = complete_schema(app, schema, api_prefixes=api_prefixes, token_url=token_url)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


DOCS_ASSETS_PATH = "/docs-assets"


def docs_assets_dir() -> Path:
    """Swagger UI's and ReDoc's JavaScript and CSS, shipped by the ``fastapi-offline`` wheel (no CDN)."""
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI, *, openapi_url: str) -> None:
    """``/docs`` and ``/redoc`` with their assets served by the app itself, so they work without Internet."""
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=docs_assets_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=None,
            # The token endpoint reads a form: Swagger sends username and password, no client secret.
            init_oauth={"usePkceWithAuthorizationCodeGrant": False},
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            redoc_js_url=f"{DOCS_ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
