"""Connectors: stateless translators between Cauri and external providers (DESIGN.md, convention 7).

* ``base``: domain types and the :class:`~cauri.connectors.base.PaymentConnector` every provider implements
* ``errors``: the error tree and the stable failure reasons
* ``http`` / ``auth``: the one HTTP layer (retries, breaker, rate limit, metrics, masked logs) and its auth
* ``registry``: providers by name; ``credentials``: encrypted per-organisation credentials
* ``contract``: the suite every payment connector passes against its simulator; ``testing``: loopback servers
* ``mobile_money/<provider>``: client, transformers, webhooks, simulator

``docs/connectors.md`` explains how to add a provider.
"""
