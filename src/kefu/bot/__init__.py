"""Conversational bot: NLU, emotion detection and hand-off signals."""
