"""Web chat: embeddable widget, visitor tokens, WebSocket with resume."""
