"""Public records requests: register, deadlines, search, review and redaction, export packages."""
