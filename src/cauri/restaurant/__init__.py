"""The restaurant hub (issue 14, seed 001 "Le Vieux Moulin"): connections to the restaurant's providers (OAuth,
tokens encrypted at rest, refreshed by one process at a time), the incremental sync engine, the catalogue cache
and, on top, the restaurant's own logic. Connectors live in :mod:`cauri.connectors.restaurant`."""
