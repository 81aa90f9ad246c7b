"""LokaHome, the rentals and home-services marketplace (seed 004): ``/api/v1/auth``, ``/api/v1/users/me``; the
rentals issue adds its routes (properties, bookings, payments, services, messages, reviews) as modules here."""

from cauri.surfaces.registry import Surface

SURFACE = Surface(name="lokahome", title="LokaHome")
