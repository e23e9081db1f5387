"""Test helpers shared across the suite (stub servers and their fixtures)."""
