"""gunicorn's settings for HSE, read from the working directory (the image's command and the
benchmark both start gunicorn there).

Pages spend their time on the CPU more than waiting for the database, so one sync worker per
core serves them fastest (measured in docs/benchmark.md). A sync worker takes one request at a
time, so the next request goes to whichever worker is free. WEB_CONCURRENCY overrides the
number of workers."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# At most 8 by default: in a container limited by a CPU quota the affinity shows every core of
# the host, and each worker keeps a database connection.
workers = int(os.environ.get("WEB_CONCURRENCY") or min(len(os.sched_getaffinity(0)), 8))
worker_class = "sync"
# A worker silent this long is killed and replaced. No page takes more than a fraction of a
# second; the longest honest wait is a booking queued on its coach's row behind the other
# bookings of that slot, each a few milliseconds (tests/test_booking_race.py prints them).
timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None


def post_worker_init(worker):
    """Moves everything the worker loaded (Django, the URLconf, the models) out of the
    garbage collector's reach, so that a full collection, which now and then falls in a
    request, walks only what requests made since (docs/benchmark.md)."""
    import gc

    gc.freeze()
