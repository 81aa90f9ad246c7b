"""Point-of-sale connectors (Square; Lightspeed to come): :class:`~cauri.connectors.restaurant.base.PosConnector`."""
