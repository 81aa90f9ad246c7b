"""Prefix dispatch: a request only tries the routers whose paths can match it.

FastAPI tries the application's routes one by one, and an included router tries each of its own routes, at a
few microseconds each: ``/health``, included after every module, was matched against ~110 routes, and a payout
request went through the identity, ledger and connectors routers first. :func:`install_prefix_dispatch` gives
each top-level route a guard: the *heads* of the paths it serves (their leading literal segments, at most
:data:`HEAD_DEPTH`) and a request whose path starts with none of them is refused at once, without entering the
router. The guard only ever says "cannot match"; whatever passes it is matched by FastAPI as before, so the order
of routes, 405s, trailing-slash redirects, OpenAPI and ``app.routes`` are unchanged.

Why it is sound: a route's path regex is anchored and its leading literal segments must appear verbatim at the
start of the path, so a path that matches a route starts with that route's head. Empty segments are dropped on
both sides, so ``/a/b`` and ``/a/b/`` (the trailing-slash redirect's two forms) have the same head. A route whose
first segment holds a parameter (``/{path:path}``, a host route, a mount at the root) has the empty head: it is
always tried.

The heads are read when the app is built and again when it starts (routes added by startup hooks). A route
added to an included router *after* startup would be invisible to its guard: add routes before serving, as
FastAPI's own OpenAPI cache already requires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

Head = tuple[str, ...]
HEAD_DEPTH = 3
# Only routers are guarded: a plain route's own regex is as cheap as the guard.
_GUARDED_TYPES = ("_IncludedRouter",)
_HEADS_SCOPE_KEY = "cauri.path_heads"
_NONE: tuple[Match, Scope] = (Match.NONE, {})


def path_head(path: str) -> Head:
    """The leading literal segments of a route's path (up to the first parameter), at most HEAD_DEPTH."""
    head: list[str] = []
    for segment in path.split("/"):
        if not segment:
            continue
        if "{" in segment or len(head) == HEAD_DEPTH:
            break
        head.append(segment)
    return tuple(head)


def request_heads(path: str) -> frozenset[Head]:
    """Every head a route serving ``path`` could have: its non-empty leading segments, 0 to HEAD_DEPTH of them."""
    segments = [segment for segment in path.split("/") if segment][:HEAD_DEPTH]
    return frozenset(tuple(segments[:length]) for length in range(len(segments) + 1))


def _served_paths(route: BaseRoute, prefix: str = "") -> Iterator[str]:
    # Read from the included routers' own routes and prefixes, not from iter_route_contexts: that builds every
    # route's effective state (dependants, response fields), which FastAPI otherwise builds lazily, router by
    # router, on first use — a second of every process's start for the whole app.
    router, context = getattr(route, "original_router", None), getattr(route, "include_context", None)
    if router is None or context is None:
        yield prefix + str(getattr(route, "path", "") or "")
        return
    for child in (*router.routes, *getattr(router, "_low_priority_routes", ())):
        yield from _served_paths(child, prefix + context.prefix)


def route_heads(route: BaseRoute) -> frozenset[Head]:
    """The heads of every path a top-level route serves (an included router: all of its routes)."""
    return frozenset(path_head(path) for path in _served_paths(route))


def _heads_of_request(scope: Scope) -> frozenset[Head]:
    # Computed once per request and path: the redirect check copies the scope with another path.
    path = get_route_path(scope)
    cached: tuple[str, frozenset[Head]] | None = scope.get(_HEADS_SCOPE_KEY)
    if cached is None or cached[0] != path:
        cached = (path, request_heads(path))
        scope[_HEADS_SCOPE_KEY] = cached
    return cached[1]


def _guarded(matches: Callable[[Scope], tuple[Match, Scope]], heads: frozenset[Head]) -> Any:
    def guarded_matches(scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket") and heads.isdisjoint(_heads_of_request(scope)):
            return _NONE
        return matches(scope)

    guarded_matches.cauri_unguarded = matches  # type: ignore[attr-defined]
    return guarded_matches


def _guard_routes(routes: Iterable[BaseRoute]) -> None:
    for route in routes:
        if type(route).__name__ not in _GUARDED_TYPES:
            continue
        # An instance attribute shadows the class's method, for this route object only; re-guarding replaces
        # the guard (new heads) around the original method.
        original = getattr(route.matches, "cauri_unguarded", route.matches)
        heads = route_heads(route)
        route.matches = _guarded(original, heads)  # type: ignore[method-assign]


def install_prefix_dispatch(app: FastAPI) -> None:
    """Guard every top-level router of ``app`` now, and again once its startup hooks have run."""
    _guard_routes(app.router.routes)

    async def reguard(started: FastAPI) -> None:
        _guard_routes(started.router.routes)

    app.state.startup_hooks.append(reguard)
