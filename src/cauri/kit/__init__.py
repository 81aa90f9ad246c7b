"""The connector kit: what every outbound integration needs, whatever it talks to (docs/architecture.md).

* ``http``: the one HTTP layer (auth, timeouts, safe retries, circuit breaker, rate limit, metrics, logs);
* ``errors``: the connector error tree and the stable failure reasons;
* ``auth``: authentication strategies (API key, Basic, OAuth2 client credentials…);
* ``signatures``: webhook signature helpers, shared by connectors and their simulators;
* ``amounts``: integer minor units to and from a provider's decimal strings;
* ``simulation``: the simulator base (knobs, accounts, callbacks, idempotent replay, fault injection);
* ``testing``: ASGI apps served on 127.0.0.1 over real HTTP.

It imports only ``cauri.core``, so notification channels can use it from below ``identity``; per-organisation
credentials and the provider registry stay in ``cauri.connectors``.
"""
