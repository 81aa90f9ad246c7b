"""Booking channels (TheFork, OpenTable) behind :class:`~cauri.connectors.restaurant.base.ReservationConnector`."""
