"""`python -m jobs worker [--with-scheduler] [--burst] [--max-rss-mb N]` and `python -m jobs scheduler [--burst]`.

Both read REDIS_URL (and everything else) through the app's configuration, so a job process
sees exactly the settings the web process sees.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from redis import Redis

from jobs import get_app
from jobs.queues import QUEUES, WORKER_QUEUES, Queue
from jobs.worker import DEFAULT_MAX_RSS_MB, AppWorker, reexec

log = logging.getLogger("jobs")


def _connection() -> Redis:
    """A Redis connection to the app's REDIS_URL."""
    return Redis.from_url(get_app().config["REDIS_URL"])


# Statement renders run on this queue; only its workers preload the renderer.
STATEMENT_QUEUE = "default"
# The job modules, and WeasyPrint through webapp.statements.pdf (which the web process never loads).
PRELOADED_MODULES = ("jobs.mail", "jobs.statements", "jobs.reminders", "jobs.housekeeping", "webapp.statements.pdf",
                     "webapp.statements.rendering")
# The templates every statement job renders; compiled once when the worker starts.
WARM_TEMPLATES = ("pdf/statement.html", "email/statement.txt", "email/statement.html")


def _preload() -> None:
    """Import and warm up, once when the worker starts, what the first jobs would otherwise pay for."""
    # Jobs run in the worker process (jobs/worker.py), so this is paid once per worker (and again
    # after a memory re-exec) rather than by whichever job comes first. When RQ forked a horse per
    # job, each child paid for it: importing WeasyPrint alone took ~0.7 s of a ~0.17 s render (P3).
    try:
        for module in PRELOADED_MODULES:
            importlib.import_module(module)
        from webapp.statements.pdf import html_to_pdf

        app = get_app()
        with app.app_context():
            for name in WARM_TEMPLATES:
                app.jinja_env.get_template(name)
        html_to_pdf("<p>warm-up</p>")  # WeasyPrint's first-render set-up (fonts)
    except Exception:  # noqa: BLE001 - a slower first job beats a worker that will not start
        # Mail, reminders and housekeeping must go on; a statement job will report the real error.
        log.warning("could not preload the statement renderer; each job will load it", exc_info=True)


def run_worker(args: argparse.Namespace) -> int:
    """Run the worker (jobs.worker.AppWorker) on the declared queues until stopped (or until empty
    with --burst); re-execute it in place when it outgrew --max-rss-mb."""

    queues = args.queues or list(WORKER_QUEUES)
    unknown = [name for name in queues if name not in QUEUES]
    if unknown:
        log.error("Unknown queue(s): %s (declared: %s)", ", ".join(unknown), ", ".join(QUEUES))
        return 2
    connection = _connection()
    if STATEMENT_QUEUE in queues:
        _preload()
    # No fork per job: one app, one warm connection pool, a clean session per job (jobs/worker.py).
    worker = AppWorker(queues, connection=connection, queue_class=Queue, app=get_app(),
                       max_rss_mb=args.max_rss_mb)
    # with_scheduler runs RQ's own scheduler beside the worker: it moves jobs enqueued with
    # enqueue_in()/enqueue_at() and Retry(interval=...) back to their queues when due.
    worked = worker.work(burst=args.burst, with_scheduler=args.with_scheduler,
                         logging_level=args.logging_level, max_jobs=args.max_jobs)
    log.debug("worker finished (processed jobs: %s)", worked)
    if worker.reexec_requested:
        reexec()  # does not return: the same command, same pid, a fresh interpreter
    return 0


def run_scheduler(args: argparse.Namespace) -> int:
    """Reconcile the declared schedule, then move due jobs to their queues until stopped."""
    from jobs.schedule import DECLARED, make_scheduler, reconcile

    scheduler = make_scheduler(_connection(), interval=args.interval)
    result = reconcile(scheduler, DECLARED)
    log.info("schedule reconciled: added=%s updated=%s removed=%s kept=%s",
             result.added, result.updated, result.removed, result.kept)
    scheduler.run(burst=args.burst)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="python -m jobs", description=__doc__.splitlines()[0])
    parser.add_argument("--logging-level", default="INFO", help="Python logging level (default INFO)")
    commands = parser.add_subparsers(dest="command", required=True)

    worker = commands.add_parser("worker", help="run an RQ worker")
    worker.add_argument("--with-scheduler", action="store_true",
                        help="also run RQ's scheduler, so delayed jobs and retries fire")
    worker.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    worker.add_argument("--max-jobs", type=int, default=None,
                        help="quit after this many jobs (counted again from 0 after a memory re-exec)")
    worker.add_argument("--max-rss-mb", type=int, default=DEFAULT_MAX_RSS_MB,
                        help="after a job, restart in place (same pid) if the resident memory exceeds "
                             f"this many MB; 0 for no bound (default {DEFAULT_MAX_RSS_MB})")
    worker.add_argument("queues", nargs="*", help=f"queues to listen on (default: {' '.join(WORKER_QUEUES)})")
    worker.set_defaults(handler=run_worker)

    scheduler = commands.add_parser("scheduler", help="reconcile the schedule and run rq-scheduler")
    scheduler.add_argument("--burst", action="store_true", help="enqueue what is due once, then quit")
    scheduler.add_argument("--interval", type=int, default=None,
                           help="seconds between looks for due jobs (default: jobs.schedule.POLL_INTERVAL)")
    scheduler.set_defaults(handler=run_scheduler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the chosen process."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Only our own and RQ's chatter at the chosen level; the app's libraries stay at WARNING.
    for name in ("jobs", "rq", "rq_scheduler"):
        logging.getLogger(name).setLevel(args.logging_level.upper())
    if args.command == "scheduler" and args.interval is None:
        from jobs.schedule import POLL_INTERVAL

        args.interval = POLL_INTERVAL
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
