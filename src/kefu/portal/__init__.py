"""Customer self-service portal: knowledge-base search, ticket submission, progress query."""
