"""The seeds' own APIs, served as each seed documents them (docs/compatibility.md).

Each surface (``gateway``, ``kobiri``, ``lokahome``) is a package of thin adapters over the services, mounted
under its product prefix by :func:`cauri.surfaces.registry.install`. Surfaces sit above the business modules
they adapt, like the web console: they call services, and nothing imports them.
"""

from cauri.surfaces.registry import install

__all__ = ["install"]
