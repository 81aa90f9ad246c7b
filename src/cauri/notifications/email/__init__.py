"""E-mail done properly: multipart text + HTML, STARTTLS and AUTH, unsubscribe links with a signed token, and
addresses an SMTP server refused for good (5xx) kept as undeliverable."""
