"""Twilio SMS: client (HTTP), transformers (wire ↔ domain), webhooks (``X-Twilio-Signature``), simulator."""
