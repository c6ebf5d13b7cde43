"""SMS through a provider's HTTP API, configured on the brand's phone inbox (proactive notices only)."""
