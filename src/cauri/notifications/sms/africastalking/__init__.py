"""Africa's Talking SMS: client (HTTP), transformers (wire ↔ domain), webhooks (verification), simulator."""
