"""kefu 客服: self-hosted, AI-first omnichannel customer service."""

__version__ = "0.1.0"
