"""Fixtures for tests that talk to a stub of an external service instead of the real one."""

from __future__ import annotations

import pytest

from tests.support.mailchimp_stub import MailchimpStub


@pytest.fixture
def mailchimp_stub():
    """A Mailchimp Transactional stub listening on 127.0.0.1 for this test (see its fail_with, hang...)."""
    stub = MailchimpStub().start()
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture
def mailchimp_backend(app, mailchimp_stub):
    """The app's mail backend swapped for the real Mailchimp client pointed at the stub.

    Its timeout is short so the hang tests end quickly; the app's own backend is put back after.
    """
    from webapp.mail.mailchimp import MailchimpBackend

    backend = MailchimpBackend(mailchimp_stub.api_key, "statements@sales.test", "Sales Tracking",
                               host=mailchimp_stub.host, timeout=1)
    missing = object()
    previous = app.extensions.get("mail_backend", missing)
    app.extensions["mail_backend"] = backend
    try:
        yield backend
    finally:
        if previous is missing:
            app.extensions.pop("mail_backend", None)
        else:
            app.extensions["mail_backend"] = previous
