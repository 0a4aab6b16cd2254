"""gunicorn's settings for HSE, read from the working directory (the image's command and the
benchmark both start gunicorn there).

Pages spend their time on the CPU (the database answers most queries in under a
millisecond), so one sync worker per core serves them fastest: on 2 cores, 2 workers gave
every page a lower p95 and more throughput than 3 or 5 (bench/run.py, README). A sync
worker takes one request at a time, so the next request goes to whichever worker is free.
WEB_CONCURRENCY overrides the number of workers."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# At most 8 by default: in a container limited by a CPU quota the affinity shows every core of
# the host, and each worker keeps a database connection.
workers = int(os.environ.get("WEB_CONCURRENCY") or min(len(os.sched_getaffinity(0)), 8))
worker_class = "sync"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None


def post_worker_init(worker):
    """Moves everything the worker loaded (Django, the URLconf, the models) out of the
    garbage collector's reach, so that a full collection walks only what requests made
    since. Measured on the coach page: about one request in two hundred runs a full
    collection, which took up to 75 ms before and 14 ms after."""
    import gc

    gc.freeze()
