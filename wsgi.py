"""Entry point for gunicorn (`gunicorn wsgi:app`) and the flask CLI (`flask --app wsgi ...`)."""
import gc

from scheduler import create_app

app = create_app()

# Everything built so far (the app, SQLAlchemy's mappers, templates, translations) lives as long as the
# process: moved out of the collector's reach, a full collection no longer walks it. Without this a worker's
# occasional full collection took 50–150 ms in the middle of a request (under a meeting's lock, every other
# declaration of that meeting waited for it); bench/profile_requests.py measured it.
gc.collect()
gc.freeze()
