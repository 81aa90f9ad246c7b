"""Tontines: savings groups run by their treasurer, paid by mobile money, transparent to every member (issue 12,
docs/tontines.md)."""
