"""Quarterly quality loop: feedback attribution, improvement plans, third-party audit samples (seed 000)."""
