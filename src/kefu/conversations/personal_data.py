"""Personal data in conversations: subjects and message bodies, attachments and channel metadata."""

from __future__ import annotations

from kefu.conversations.models import Conversation, Message
from kefu.privacy.contract import PersonalData

# Scrubbed by privacy.service.erase_customer (customer text erased, replies masked), hence no owned_by here.
DECLARATIONS = [
    PersonalData(Conversation, {"subject": "text", "external_thread_id": "identifier"}),
    PersonalData(Message, {"body": "text", "attachments": "json", "meta": "json"}),
]
