"""The sweep orchestrator: validates, plans and dispatches runs, and reports their status."""
