"""Orange SMS API: client (OAuth2 client credentials, HTTP), transformers, webhooks (URL token), simulator."""
