"""Agent alerts in the console: unread notification badge and list (desktop/sound alerts are opt-in in the browser)."""
