"""Proactive notices to customers on the channel they used: case updates, follow-ups, appointment reminders."""
