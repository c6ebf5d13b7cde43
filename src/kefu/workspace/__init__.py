"""Agent workspace: saved ticket-list views."""
