"""Follow-up visits (回訪) after a case is resolved: rules, a queue for agents, outcomes and figures."""
