"""Shift schedules (排班): agents' weekly shifts per team and dated exceptions, used by routing and call-backs."""
