"""Commissions: the pure engine (engine.py) and its golden-case adapter (golden.py)."""
