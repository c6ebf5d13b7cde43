"""Routing: rules category → team, VIP bumps, and assignment strategies."""
