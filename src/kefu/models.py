"""Import every model module so Base.metadata is complete (Alembic, tests)."""

from kefu.registry import load_models

load_models()
