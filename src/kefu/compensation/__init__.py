"""Compensation ledger: seed 003's 補償機制 (double the service time for handling lapses, outages by their length)."""
