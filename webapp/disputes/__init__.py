"""Disputes: an agent objects to a ledger line; a manager of their team answers and resolves it.

No blueprint of its own: the agent's pages (agent_routes.py) hang on the sales blueprint and the
manager's (manage_routes.py) on the manager blueprint, whose endpoint names they always had.
"""
