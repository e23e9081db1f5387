"""A test client for streamed responses: the body is read in the context the request ran in.

conftest's IsolatedClient runs each request in a copy of the context; a streamed body
(stream_with_context) must then be iterated in that same copy, as a WSGI server iterates it in
the request's thread, or Flask cannot pop the request context it re-entered.
"""

from __future__ import annotations

import contextvars

from flask.globals import _cv_app
from flask.testing import FlaskClient

from tests.conftest import Browser, sign_in


class _InContext:
    """Iterates (and closes) a response body inside a given context."""

    def __init__(self, context: contextvars.Context, body):
        """Wrap `body`, to be read in `context`."""
        self.context, self.body = context, iter(body)
        self._close = getattr(body, "close", None)

    def __iter__(self):
        """Itself."""
        return self

    def __next__(self):
        """The next chunk, produced inside the request's context."""
        return self.context.run(next, self.body)

    def close(self):
        """Close the body where it was opened."""
        if self._close is not None:
            self.context.run(self._close)


class StreamingClient(FlaskClient):
    """Each request in its own context (as IsolatedClient); a streamed body is read there too."""

    def open(self, *args, **kwargs):
        """Run the request in a fresh context copy and keep that copy for the body."""
        context = contextvars.copy_context()

        def run():
            """The request, with no app context inherited from the test."""
            _cv_app.set(None)
            return super(StreamingClient, self).open(*args, **kwargs)

        response = context.run(run)
        if response.is_streamed:
            response.response = _InContext(context, response.response)
        return response


def streaming_browser(app, user) -> Browser:
    """A Browser signed in as `user` whose streamed downloads can be read."""
    client = StreamingClient(app, app.response_class, use_cookies=True)
    sign_in(client, user)
    browser = Browser(client)
    browser.user = user
    return browser
