"""Account-security incident ladder (seed 003 §3.2 「賬號安全事件處置」): intervene, freeze, verify, repair."""
