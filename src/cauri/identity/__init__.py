"""Identity and access: users, organisations, memberships and roles, login sessions, API keys, audit trail."""
