"""Shared parts of the LLM experiments (`ollama`, `openai-chat`, `llm-maze`): endpoint config and
HTTP with retries, task sets, scorers, and the two chat protocols."""
