"""Push notifications: Firebase Cloud Messaging HTTP v1 (service-account JWT, ``messages:send``), its simulator,
and the device tokens users register."""
