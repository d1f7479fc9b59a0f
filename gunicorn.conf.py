"""gunicorn settings: `gunicorn wsgi:app` picks this file up from the working directory."""
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
# Personal and manage links carry secrets in the path: log requests without them.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None


def post_worker_init(worker):
    # With SCHEDULER_ENABLED=true every worker runs a clock; that is safe (claims are
    # row locks and dedupe keys), but one separate `flask --app wsgi run-scheduler`
    # process with SCHEDULER_ENABLED=false in the workers is the recommended layout.
    from scheduler.clock import start_clock

    start_clock(worker.wsgi)
