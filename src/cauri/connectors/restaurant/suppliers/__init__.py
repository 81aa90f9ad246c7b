"""Supplier connectors: :class:`GenericSupplierConnector` (an HTTP API in the seed's shape, configurable paths:
Metro, Transgourmet and Pomona publish no ordering API) and :class:`EmailSupplierConnector` (any supplier: the
order as an e-mail with an EANCOM-style ORDERS file), both behind
:class:`~cauri.connectors.restaurant.base.SupplierConnector`."""
