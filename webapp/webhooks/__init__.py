"""Outgoing webhooks: what happened in the product, told to the endpoints admins register.

Every event starts as an audit event (written in the same transaction as the change it records, so
an event exists exactly when its change committed). A periodic job copies new audit events of the
kinds integrations care about into `webhook_events`, one job at a time under a lock, so event ids
grow in commit order and a client catching up with `GET /api/v1/events?after=` never skips one.
It then queues a delivery per subscribed endpoint; a job per endpoint POSTs them, signed, and
retries failures with backoff for about a day.
"""
