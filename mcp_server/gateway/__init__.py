"""The AI gateway: OpenAI- and Anthropic-compatible endpoints that forward to operator-defined routes
through litellm, with virtual keys, rate limits, budgets and fallbacks, recording every call as a trace."""
