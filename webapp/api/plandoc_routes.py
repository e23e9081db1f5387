"""API: plan documents and acknowledgements (filled in by the issue-15 work)."""
