"""Mobile-money providers: one package per provider (client, transformers, webhooks, simulator)."""
