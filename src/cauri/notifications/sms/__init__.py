"""SMS channels: the :class:`~cauri.notifications.sms.base.SmsChannel` interface, one package per provider
(client, transformers, webhooks, simulator), GSM-7/UCS-2 segment counting (``encoding``)."""
