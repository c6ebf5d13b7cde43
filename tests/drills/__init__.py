"""Fault drills: real kefu processes against real PostgreSQL, Redis and mail servers, killed and restarted."""
