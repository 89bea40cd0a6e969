"""A deployed stage: which one, its HTTP API (SigV4), its Athena results, costs and settings."""
