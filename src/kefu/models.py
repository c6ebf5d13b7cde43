"""Import every model module so Base.metadata is complete (Alembic, tests)."""

from kefu.audit import models as audit_models
from kefu.auth import models as auth_models
from kefu.brands import models as brand_models
from kefu.conversations import models as conversation_models
from kefu.customers import models as customer_models
from kefu.knowledge import models as knowledge_models
from kefu.tickets import models as ticket_models

__all__ = [
    "audit_models",
    "auth_models",
    "brand_models",
    "conversation_models",
    "customer_models",
    "knowledge_models",
    "ticket_models",
]
