"""Africa's Talking SMS: client (HTTP), transformers (wire ↔ domain), simulator; callbacks are verified by the
token of their URL (``sms.wire``)."""
