"""The ledger: double-entry accounts and transfers on TigerBeetle's model, on SQL. Use :mod:`cauri.ledger.service`."""
