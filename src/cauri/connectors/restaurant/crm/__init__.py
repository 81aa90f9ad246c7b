"""CRMs (HubSpot, Zoho CRM) behind :class:`~cauri.connectors.restaurant.base.CrmConnector`."""
