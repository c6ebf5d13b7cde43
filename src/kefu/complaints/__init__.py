"""Complaints and regulator cases, each backed by a ticket."""
