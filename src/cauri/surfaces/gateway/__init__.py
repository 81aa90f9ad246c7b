"""The pension fund's Mojaloop bulk-payment gateway (seed 002): ``/api/auth/*`` and ``/api/bulk-transfers``."""

from cauri.surfaces.registry import Surface

SURFACE = Surface(name="gateway", title="Gateway (pensions)")
