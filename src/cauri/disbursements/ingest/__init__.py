"""The pieces of bulk-file checking: messages, cell readers, phone numbers, duplicate detection."""
