"""Idempotency-Key for API creates: a retried create whose answer was lost replays it instead of creating twice."""
