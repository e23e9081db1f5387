"""The database-outage test's web server, run as its own process: `python -m tests.reliability.outage_app`.

Its own process because the app's extensions are module-level and bind to the last app created (a
second app inside pytest would fight the session app). Configured from the environment the test
gives it (DATABASE_URL points through the test's TCP proxy). Serves on a free 127.0.0.1 port,
printed as "LISTENING <url>", until its stdin closes.
"""

from __future__ import annotations

import sys
import threading

from werkzeug.serving import make_server

from webapp import create_app


def main() -> None:
    """Serve the app until stdin closes."""
    app = create_app({})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="outage-app", daemon=True)
    thread.start()
    print(f"LISTENING http://127.0.0.1:{server.server_port}", flush=True)
    sys.stdin.read()  # returns at EOF: the test finished, or died
    server.shutdown()
    thread.join(timeout=10)


if __name__ == "__main__":
    main()
