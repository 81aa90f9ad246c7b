"""Connectors: stateless translators between Cauri and external providers (DESIGN.md, convention 7).

* ``base``: domain types and the :class:`~cauri.connectors.base.PaymentConnector` every provider implements
* ``registry``: providers by name; ``credentials``: encrypted per-organisation credentials
* ``contract``: the suite every payment connector passes against its simulator
* ``mobile_money/<provider>``: client, transformers, webhooks, simulator

The generic pieces (HTTP layer, errors, auth, signatures, simulator base, loopback servers) are the connector
kit, :mod:`cauri.kit`. ``docs/connectors.md`` explains how to add a provider.
"""
