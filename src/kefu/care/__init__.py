"""Proactive care (主動關懷): detect customers who are stuck, queue a care opportunity, let an agent reach out."""
