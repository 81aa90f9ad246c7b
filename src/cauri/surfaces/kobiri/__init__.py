"""Kobiri, the tontines backend (seed 003): ``/api/v1/auth``, ``/api/v1/users``; the tontines issue adds its
routes (tontines, sessions, payments, passages, notifications) as modules of this package."""

from cauri.surfaces.registry import Surface

SURFACE = Surface(name="kobiri", title="Kobiri")
