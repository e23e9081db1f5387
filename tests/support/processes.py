"""Child processes of the tests (the browser tests' live app, the outage test's app)."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen) -> None:
    """Close the app's stdin (it shuts its server down at EOF), then wait for it; kill it after 15 s."""
    process.stdin.close()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.stdout.close()
