"""Admin pages: agents, teams, brands and inboxes, knowledge base, canned responses."""
