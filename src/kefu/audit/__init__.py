"""Append-only, hash-chained audit trail."""

from kefu.audit import chain as chain  # registers the before_insert hook wherever audit models are used
