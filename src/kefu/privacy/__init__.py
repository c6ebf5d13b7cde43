"""Privacy helpers: PII detection and masking."""
