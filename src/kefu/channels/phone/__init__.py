"""Phone: calls logged by agents, shown in the customer's timeline."""
