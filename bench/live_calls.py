"""HSE benchmark (not a test): the database work behind each event of a live room, timed
one call at a time in this process, against the data set of ``bench/live.py``.

A room's exchange in ``bench/live.py`` is a call signal, a chat line and its read; over the
socket each is one call of ``marketplace.live`` in the worker's database thread. This runs
each call N times in a row as the consumer does (stale connections closed before and after,
so the pool hands one out and takes it back) and prints the CPU and the wall time a call, and
the SQL statements it sends (BEGIN and COMMIT counted). The figures leave out the socket
and the channel layer: ``bench/live.py`` prices the whole.

    .venv/bin/python bench/live.py --rooms 1 --phases live --seconds 1   # the data set, once
    .venv/bin/python bench/live_calls.py
    .venv/bin/python bench/live_calls.py --calls 5000
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import live as live_bench  # noqa: E402  (its environment: database, Redis)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="of each kind")
    parser.add_argument("--rounds", type=int, default=5, help="figures are their median")
    args = parser.parse_args()
    live_bench.http_bench.setup_django()

    from django.db import close_old_connections, connection
    from django.test.utils import CaptureQueriesContext

    from marketplace import live
    from sessions_app.models import Session

    room = live_bench.prepare(1)[0]
    session = Session.objects.select_related("client", "coach__user").get(pk=room.session)
    found = live._shown(session.client, {"session": str(room.session),
                                         "conversation": str(room.conversation)})  # fmt: skip
    _, conversation = found
    client, coach = session.client, session.coach.user
    data = live_bench.SIGNAL["data"]
    state = {"upto": 0}

    def signal():
        error, _ = live._store_signal(client, session, "media", data)
        assert not error, error

    def say():
        error, pushes = live._say(coach, conversation, "bench line")
        assert not error, error
        state["upto"] = next(event["id"] for _, event in pushes if event["type"] == "message")

    def read():
        live._read(client, conversation, state["upto"])

    calls = {"signal": signal, "say": say, "read": read}  # a read needs the line said before
    queries = {}
    for name, call in calls.items():  # warm: templates compiled, connections made
        with CaptureQueriesContext(connection) as captured:
            call()
        queries[name] = len(captured.captured_queries)
    rounds = {name: [] for name in calls}
    for _ in range(args.rounds):
        spent = {name: [0.0, 0.0] for name in calls}  # CPU, wall
        for _ in range(args.calls):
            for name, call in calls.items():
                cpu, wall = time.thread_time(), time.perf_counter()
                close_old_connections()  # as database_sync_to_async does, around each call
                call()
                close_old_connections()
                spent[name][0] += time.thread_time() - cpu
                spent[name][1] += time.perf_counter() - wall
        for name, (cpu, wall) in spent.items():
            rounds[name].append((cpu / args.calls * 1000, wall / args.calls * 1000))
    live_bench.reset_rows()
    print(f"{args.calls} calls of each kind, {args.rounds} rounds, median round; "
          f"one room of {live_bench.DB}")  # fmt: skip
    print(f"{'call':10} {'CPU ms':>8} {'wall ms':>8} {'SQL':>8}")
    total_cpu = total_wall = 0.0
    for name in calls:
        cpu = statistics.median(c for c, _ in rounds[name])
        wall = statistics.median(w for _, w in rounds[name])
        total_cpu, total_wall = total_cpu + cpu, total_wall + wall
        print(f"{name:10} {cpu:8.3f} {wall:8.3f} {queries[name]:8d}")
    print(f"{'exchange':10} {total_cpu:8.3f} {total_wall:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
