"""Waiting on other processes (a worker, a server, a browser) the same way in every test:
for a state, never for a fixed time, with one limit sized for a loaded 2-core machine.
A test that passes waits only as long as the state takes; the limit only bounds a failure."""

import os
import time

# Seconds. CI shares its two cores with the browser, the workers and PostgreSQL, and a
# machine may be running other jobs: at a load average of 13, work that takes a second
# idle was seen to take over a minute.
PATIENCE = 300
PATIENCE_MS = PATIENCE * 1000


def wait_for(condition, what: str, *, seconds: float = PATIENCE, every: float = 0.05):
    """Calls ``condition`` until it returns something true, and returns that."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


def real_clock_env(environ=None) -> dict:
    """``environ`` without libfaketime, for helper servers (redis-server, redis-cli) that
    hang on a faked clock: the suite's clock-shifted run starts them on the real one."""
    environ = dict(os.environ if environ is None else environ)
    preload = [
        part for part in environ.get("LD_PRELOAD", "").split(":") if part and "faketime" not in part
    ]
    if preload:
        environ["LD_PRELOAD"] = ":".join(preload)
    else:
        environ.pop("LD_PRELOAD", None)
    for name in [name for name in environ if name.startswith("FAKETIME")]:
        del environ[name]
    return environ
