"""Optional LLM assist (OpenAI-compatible): grounded bot answers, hand-off summaries, agent drafts, translation."""
