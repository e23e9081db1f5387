"""The browser tests' web server, run as its own process: `python -m tests.e2e.live_app`.

Its own process, because the app's extensions (limiter, login manager, ...) are module-level and
bind to the last app created: a second app inside the pytest process would fight the session
app. The database comes from DATABASE_URL, already migrated and seeded by the fixture. Serves
on a free 127.0.0.1 port (printed as "LISTENING <url>"), with werkzeug's make_server in a
background thread, until its stdin closes (the test run ended, or died).
"""

from __future__ import annotations

import os
import sys
import threading

from werkzeug.serving import make_server

from webapp import create_app


def main() -> None:
    """Serve the app until stdin closes."""
    overrides = {}
    if os.environ.get("E2E_TOTALS_REFRESH_SECONDS"):  # the agent's totals panel polls faster in tests
        overrides["TOTALS_REFRESH_SECONDS"] = int(os.environ["E2E_TOTALS_REFRESH_SECONDS"])
    app = create_app(overrides)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    print(f"LISTENING http://127.0.0.1:{server.server_port}", flush=True)
    sys.stdin.read()  # returns at EOF: the parent closed the pipe or is gone
    server.shutdown()
    thread.join(timeout=10)


if __name__ == "__main__":
    main()
