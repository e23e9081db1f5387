"""What an error answer keeps of the error it renders: its Allow, Retry-After, WWW-Authenticate...

The error handlers build a new response (a page, or the API's JSON error); without the original's
headers a client cannot know which methods a URL takes (405) or how long to wait (429).
"""

from __future__ import annotations

import math
import time

from werkzeug.exceptions import HTTPException

from webapp.extensions import limiter

# The rendered page or JSON body brings its own.
_BODY_HEADERS = {"content-type", "content-length"}


def kept_headers(error) -> list[tuple[str, str]]:
    """The original error's headers other than its body's; a 429 always says when to retry."""
    if not isinstance(error, HTTPException):
        return []
    source = error.response.headers.items() if error.response is not None else error.get_headers()
    headers = [(name, value) for name, value in source if name.lower() not in _BODY_HEADERS]
    if error.code == 429 and not any(name.lower() == "retry-after" for name, _ in headers):
        wait = retry_after_seconds()
        if wait is not None:
            headers.append(("Retry-After", str(wait)))
    return headers


def retry_after_seconds() -> int | None:
    """Whole seconds until every rate limit this request broke lets it through; None if none broke."""
    breached = [limit for limit in limiter.current_limits if limit.breached]
    if not breached:
        return None
    try:
        reset_at = max(limit.window[0] for limit in breached)  # when each window's count starts over
    except Exception:  # noqa: BLE001  (the limit store went away: the longest window is a safe wait)
        return max(limit.limit.get_expiry() for limit in breached)
    return max(1, math.ceil(reset_at - time.time()))
