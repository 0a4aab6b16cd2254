"""HSE live-pages benchmark (not a test): video rooms whose two pages keep a WebSocket open
(``marketplace.live``), beside the same rooms polling as today, in one run.

Each room is a session in progress between a coach and a client, with their conversation.
Both phases send the same traffic: every --every seconds (from a jittered start) the client
sends a call signal (``media``) that the coach's page must see, and every --chat-every
seconds the coach writes a chat line in the room's panel (an htmx form post) that the
client's page must see. Figures: the latency of each event from the moment it is sent to
the moment the other page has it, HTTP request times, and the CPU of the server (the
gunicorn master and workers), of PostgreSQL and Redis, of this generator, and of the
whole machine, over the measured window.

- live: gunicorn ``marketplace.asgi`` with 2 uvicorn workers (the socket and the pages).
  As the pages do (live.js, call.js, chat.js): signals go over the client's socket; the
  coach's chat line goes over the coach's socket ("say") and is seen when the client's
  socket gets {"type": "message"} with the line in it; the client's page then says the line
  was shown ("read", over its socket) and its unread badge shows the count its "unread"
  event carries (asking over HTTP only for an event without one; --no-page-reads leaves
  the read out); nothing polls while the socket is up (--watch-every N to price a watcher).
- polling: gunicorn ``hse.wsgi`` with its sync workers, as production serves pages today
  (--polling-server asgi for the ASGI server instead). Each page polls its signals every
  0.7 s after the last answer (call.js), the room's watcher every 2 s, its thread every
  3 s and its unread badge every 30 s (the room's htmx while ``window.hseLive`` is false).
  Signals are posted over HTTP and seen when the coach's poll returns them; a chat line is
  seen when the client's thread poll shows it.

    .venv/bin/python bench/live.py                           # 1,000 rooms, 60 s a phase
    .venv/bin/python bench/live.py --rooms 50 --seconds 20   # a small run
    .venv/bin/python bench/live.py --skip-build --polling-rooms 100
    .venv/bin/python bench/live.py --skip-build --phases live

It uses the database hse_bench_live on the local PostgreSQL (dropped and rebuilt unless
--skip-build), which the server reaches as the role hse_bench_live limited to
--db-connections connections, and Redis database 4 (flushed before each phase: the cache
and the channel layer). Both servers run the project's settings: the pub/sub channel layer
and Django's connection pool (DB_POOL_MAX connections a worker, --db-pool). Server logs: /tmp/hse-bench-live-{asgi,wsgi}.log. Traffic goes only to
127.0.0.1. The generator is this one asyncio process; it shares the machine's cores with
the server and prints its own CPU, and the machine's, beside the server's.

--every 0, --chat-every 0, --watch-every 0 and --no-page-reads leave parts of the traffic
out, to price each.
"""

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import re
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run as http_bench  # noqa: E402  (its settings, Stats and pct)

DB = "hse_bench_live"
# The server connects as a role of its own with a CONNECTION LIMIT (--db-connections): a
# superuser is exempt from limits, and the ASGI server, which opens a connection per request
# in flight, would otherwise take all of PostgreSQL's (shared with other work on the machine).
ROLE = "hse_bench_live"
PORT = 8771
BASE = f"http://127.0.0.1:{PORT}"
REDIS_URL = "redis://127.0.0.1:6379/4"
ENV = {
    **http_bench.ENV,
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": REDIS_URL,
    "ALLOWED_HOSTS": "127.0.0.1",
    "SITE_URL": BASE,
    "GUNICORN_ACCESS_LOG": "",  # no access log (gunicorn.conf.py: "-" writes one line a request)
}
SERVER_ENV = {**ENV, "DATABASE_URL": f"postgres://{ROLE}@127.0.0.1:5432/{DB}"}
os.environ.update(ENV)  # bench.run set its own database on import; this run uses its own
Stats, pct = http_bench.Stats, http_bench.pct
CLK = os.sysconf("SC_CLK_TCK")
PASSWORD = "bench-live-2026"  # noqa: S105  # nosec B105 - a throwaway benchmark database
CSRF = "b" * 32  # a CSRF secret: the same in the cookie and in the header (as bench/run.py)
SIGNAL = {"type": "signal", "kind": "media", "data": {"video": True, "audio": True}}
SINCE = re.compile(rb"\?since=([0-9.]+)")
GRACE = 5.0  # seconds after the window for events still on their way
TIMEOUT = 30.0  # a request or a handshake slower than this is an error


# --- Data set --------------------------------------------------------------------------------


def rebuild(rooms: int) -> None:
    for sql in (f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=ENV, check=True
    )
    http_bench.setup_django()
    started = time.monotonic()
    build(rooms)
    print(f"data set built in {time.monotonic() - started:.0f} s: {rooms} rooms")


def build(rooms: int) -> None:
    """``rooms`` coaches and clients, one pair each, with a session in progress now and the
    pair's conversation (the room's chat panel)."""
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from coaching.models import CoachProfile, Skill
    from coaching.search import document
    from messaging.models import Conversation
    from sessions_app.models import Session

    hashed = make_password(PASSWORD)
    now = timezone.now()
    with transaction.atomic():
        skill = Skill.objects.create(name="Live calls", slug="live-calls")
        coach_users = User.objects.bulk_create(
            [User(email=f"coach{n}@live.bench", display_name=f"Coach {n:04d}", role="coach",
                  time_zone="Europe/Berlin", password=hashed) for n in range(rooms)],
            batch_size=2000,
        )  # fmt: skip
        coaches = CoachProfile.objects.bulk_create(
            [CoachProfile(user=user, headline=f"Headline {n}", bio="Bio", languages=["en"],
                          search_document=document(user.display_name, f"Headline {n}", "Bio"),
                          hourly_price=6000, currency="USD", minimum_notice_minutes=0,
                          time_zone=user.time_zone, is_listed=True)
             for n, user in enumerate(coach_users)],
            batch_size=2000,
        )  # fmt: skip
        CoachProfile.skills.through.objects.bulk_create(
            [CoachProfile.skills.through(coachprofile_id=c.pk, skill_id=skill.pk) for c in coaches]
        )
        clients = User.objects.bulk_create(
            [User(email=f"client{n}@live.bench", display_name=f"Client {n:04d}", role="client",
                  time_zone="Europe/Berlin", password=hashed) for n in range(rooms)],
            batch_size=2000,
        )  # fmt: skip
        # The coach started a few minutes ago (what sessions_app.services.session_start
        # writes: the status, started_at, and the "start" attendance), so the room is open.
        Session.objects.bulk_create(
            [Session(coach=coach, client=client, skill=skill, duration_minutes=60,
                     starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=55),
                     status=Session.Status.IN_PROGRESS, started_at=now - timedelta(minutes=4))
             for coach, client in zip(coaches, clients, strict=True)],
            batch_size=2000,
        )  # fmt: skip
        Conversation.objects.bulk_create(
            [Conversation(client=client, coach=coach, created_at=now)
             for coach, client in zip(coaches, clients, strict=True)],
            batch_size=2000,
        )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


@dataclass
class Room:
    n: int
    session: int
    conversation: int
    coach_uid: int
    client_uid: int
    coach_key: str = ""
    client_key: str = ""
    lines: int = 0  # chat lines written
    # Sent and not yet seen by the other page: send times (signals), (marker, time) (chat).
    signals: collections.deque = field(default_factory=collections.deque)
    chats: collections.deque = field(default_factory=collections.deque)


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-qc", sql], check=True)


def server_role(connections: int) -> None:
    """The server's role: what the app needs on the data set's tables, and no more than
    ``connections`` connections at once."""
    _psql(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"CREATE ROLE {ROLE} LOGIN; END IF; END $$;"
    )
    _psql(
        f"ALTER ROLE {ROLE} CONNECTION LIMIT {connections}; "
        f"GRANT CONNECT ON DATABASE {DB} TO {ROLE}; GRANT USAGE ON SCHEMA public TO {ROLE}; "
        f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {ROLE}; "
        f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {ROLE};"
    )


def reset_rows() -> None:
    """What an earlier phase or run left: signals, attendance, messages."""
    from messaging.models import Conversation, Message
    from sessions_app.models import Attendance, Signal

    Signal.objects.all().delete()
    Attendance.objects.all().delete()
    Conversation.objects.update(
        last_message=None, last_message_at=None, client_emailed_at=None, coach_emailed_at=None
    )
    Message.objects.all().delete()


def prepare(rooms: int) -> list[Room]:
    """The rooms, open now (each run moves the sessions to now), and a signed-in session for
    each of the 2N people (Django session rows, as a login leaves them)."""
    http_bench.setup_django()
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session as Login
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from accounts.models import User
    from messaging.models import Conversation
    from sessions_app.models import Session

    sessions = list(
        Session.objects.filter(status__in=("in_progress", "scheduled"))
        .select_related("coach")
        .order_by("pk")[:rooms]
    )
    if len(sessions) < rooms:
        raise SystemExit(f"the data set has {len(sessions)} rooms: run without --skip-build")
    now = timezone.now()
    Session.objects.filter(pk__in=[s.pk for s in sessions]).update(
        status="in_progress", starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(minutes=55), started_at=now - timedelta(minutes=4),
    )  # fmt: skip
    reset_rows()
    chats = {
        (c.client_id, c.coach_id): c.pk
        for c in Conversation.objects.filter(client_id__in=[s.client_id for s in sessions])
    }
    result = [
        Room(n, s.pk, chats[(s.client_id, s.coach_id)], s.coach.user_id, s.client_id)
        for n, s in enumerate(sessions)
    ]
    users = User.objects.in_bulk([r.coach_uid for r in result] + [r.client_uid for r in result])
    encoder = SessionStore()
    Login.objects.all().delete()
    logins, expires = [], now + timedelta(days=1)
    for room in result:
        for role in ("coach", "client"):
            user = users[getattr(room, f"{role}_uid")]
            key = get_random_string(32, VALID_KEY_CHARS)
            data = {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
            logins.append(Login(session_key=key, session_data=encoder.encode(data),
                                expire_date=expires))  # fmt: skip
            setattr(room, f"{role}_key", key)
    Login.objects.bulk_create(logins, batch_size=2000)
    return result


def flush_redis() -> None:
    """Redis database 4 is this benchmark's: the cache, the sessions' cached copies and the
    channel layer's groups (an earlier phase's sockets would still be members)."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


# --- Server and CPU --------------------------------------------------------------------------


def _stat(pid: int):
    """(ppid, comm, utime + stime, cutime + cstime (its reaped children's), start since
    boot), in ticks, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    comm = raw[raw.index(b"(") + 1 : raw.rindex(b")")].decode(errors="replace")
    rest = raw[raw.rindex(b")") + 2 :].split()
    return (
        int(rest[1]), comm, int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14]),
        int(rest[19]),
    )  # fmt: skip


def _procs() -> dict[int, tuple]:
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (info := _stat(int(name))) is not None:
            found[int(name)] = info
    return found


def _descendants(root: int, procs: dict[int, tuple]) -> set[int]:
    tree = collections.defaultdict(list)
    for pid, info in procs.items():
        tree[info[0]].append(pid)
    found, todo = {root}, [root]
    while todo:
        for child in tree[todo.pop()]:
            found.add(child)
            todo.append(child)
    return found & set(procs)


def _uptime_ticks() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) * CLK


def _machine() -> tuple[int, int]:
    """(busy, total) ticks of all cores since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU over a window, as % of one core (the machine has os.cpu_count() x 100 %): the
    server (the gunicorn master and its workers), PostgreSQL and Redis (all their processes
    on the machine), this generator, and the machine as a whole.

    Processes are read every second. A process's CPU counts from the window's start (or its
    own start, if later); one that exits during the window (a PostgreSQL backend of a
    connection closed after its request) is counted by its parent's reaped children's time,
    less what it had used before the window."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.base: dict[str, dict[int, tuple[int, int]]] = {}  # ticks, children's ticks
        self.now: dict[str, dict[int, tuple[int, int]]] = {}

    def _groups(self) -> dict[str, dict[int, tuple]]:
        procs = _procs()
        server = _descendants(self.server_pid, procs)
        return {
            "server": {pid: procs[pid] for pid in server},
            "postgres": {p: i for p, i in procs.items() if i[1] == "postgres"},
            "redis": {p: i for p, i in procs.items() if i[1].startswith("redis-server")},
        }

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.boot0 = _uptime_ticks()
        self.machine0 = _machine()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.self0 = usage.ru_utime + usage.ru_stime
        for name, procs in self._groups().items():
            self.base[name] = {pid: (info[2], info[3]) for pid, info in procs.items()}
            self.now[name] = {}

    def sample(self) -> None:
        for name, procs in self._groups().items():
            base = self.base[name]
            now = self.now[name] = {}
            for pid, info in procs.items():
                if pid not in base:
                    base[pid] = (0, 0) if info[4] >= self.boot0 else (info[2], info[3])
                now[pid] = (info[2], info[3])

    async def run(self, until: float) -> None:
        while time.monotonic() < until:
            await asyncio.sleep(min(1.0, max(0.0, until - time.monotonic())))
            await asyncio.to_thread(self.sample)

    def result(self) -> dict[str, float]:
        self.sample()
        elapsed = time.monotonic() - self.t0
        busy, total = _machine()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        figures = {}
        for name, base in self.base.items():
            now = self.now[name]
            ticks = sum(
                (now[pid][0] - ticks) + (now[pid][1] - children)
                if pid in now
                else -ticks - children
                for pid, (ticks, children) in base.items()
            )
            figures[name] = ticks / CLK / elapsed * 100
        figures["generator"] = (usage.ru_utime + usage.ru_stime - self.self0) / elapsed * 100
        cores = os.cpu_count() or 1
        figures["machine"] = (
            (busy - self.machine0[0]) / max(1, total - self.machine0[1]) * cores * 100
        )
        return figures


class Server:
    """gunicorn with the app, from the project's directory (so gunicorn.conf.py is read: its
    worker_class is "sync"; -k on the command line overrides it, and start() checks the log
    for the class that took effect)."""

    def __init__(self, kind: str, workers: int, extra_env: dict[str, str]):
        self.kind, self.workers, self.extra_env = kind, workers, extra_env
        self.log_path = Path(f"/tmp/hse-bench-live-{kind}.log")  # noqa: S108  # nosec B108
        if kind == "asgi":
            self.app, self.args = (
                "marketplace.asgi:application",
                ["-k", "uvicorn_worker.UvicornWorker"],
            )
            self.expected = "uvicorn_worker.UvicornWorker"
        else:
            self.app, self.args, self.expected = "hse.wsgi:application", [], "sync"
        self.proc = None

    def start(self) -> None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", PORT)) == 0:
                raise SystemExit(f"something already listens on 127.0.0.1:{PORT}")
        log = open(self.log_path, "w")  # noqa: SIM115 - kept open for the server's life
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", self.app, *self.args, "-w", str(self.workers),
             "--bind", f"127.0.0.1:{PORT}", "--log-level", "info"],
            cwd=ROOT, env={**SERVER_ENV, **self.extra_env}, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        from urllib.request import urlopen

        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited: see {self.log_path}")
            try:
                with urlopen(f"{BASE}/healthz/", timeout=5) as answer:  # noqa: S310  # nosec B310
                    if answer.status == 200 and len(self.pids()) > self.workers:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer in 60 s: see {self.log_path}")
            time.sleep(0.5)
        used = re.findall(r"Using worker: (\S+)", self.log_path.read_text())
        if used != [self.expected]:
            raise SystemExit(f"gunicorn's worker class is {used}, not {self.expected}")
        print(f"server: gunicorn {self.app}, {self.workers} workers, worker class {used[0]} "
              f"(checked in its log), pids {sorted(self.pids())}")  # fmt: skip

    def pids(self) -> set[int]:
        return _descendants(self.proc.pid, _procs()) if self.proc else set()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        errors = [
            line
            for line in self.log_path.read_text().splitlines()
            if "Traceback" in line or "ERROR" in line or "Exception" in line
        ]
        if errors:
            print(
                f"server log {self.log_path}: {len(errors)} error lines, first: {errors[0][:200]}"
            )


# --- What both phases record -----------------------------------------------------------------


class Phase:
    def __init__(self, name: str, rooms: int):
        self.name, self.rooms = name, rooms
        self.window = (float("inf"), float("inf"))
        self.signal_ms: list[float] = []
        self.chat_ms: list[float] = []
        self.sent = collections.Counter()  # signal, chat: sent in the window
        self.errors = collections.Counter()  # what went wrong, by kind
        self.http = Stats()
        self.loop_lag: list[float] = []
        self.pg_connections = 0
        self.sockets = collections.Counter()
        self.reads = collections.Counter()  # live: reads sent, receipts back (whole phase)
        self.cpu: dict[str, float] = {}
        self.load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average, start and end

    def counts(self, sent_at: float) -> bool:
        return self.window[0] <= sent_at < self.window[1]

    def seen(self, kind: str, sent_at: float) -> None:
        if self.counts(sent_at):
            (self.signal_ms if kind == "signal" else self.chat_ms).append(
                (time.monotonic() - sent_at) * 1000
            )


def _cookie(key: str) -> str:
    return f"sessionid={key}; csrftoken={CSRF}"


async def request(http, phase: Phase, name: str, method: str, path: str, key: str, **kwargs):
    """One request as the page makes it; recorded if it started in the window. Returns
    (status, body) or (None, b"") on an error."""
    headers = {"Cookie": _cookie(key), **kwargs.pop("headers", {})}
    if method == "POST":
        headers.update({"X-CSRFToken": CSRF, "Referer": BASE + "/"})
    started = time.monotonic()
    status, body, ok, code = None, b"", False, None
    try:
        async with http.request(method, BASE + path, headers=headers, allow_redirects=False,
                                **kwargs) as answer:  # fmt: skip
            body = await answer.read()
            status = code = answer.status
            ok = status < 300
    except Exception as error:  # a timeout or a reset is an error to count
        code = type(error).__name__
    if phase.counts(started):
        phase.http.add(name, time.monotonic() - started, ok, code)
    return (status if ok else None), body


def _parse_state(body: bytes, current: str) -> str:
    found = SINCE.search(body)
    return found.group(1).decode() if found else current


async def loop_lag(phase: Phase, until: float) -> None:
    """How late this process's event loop wakes up: when it is busy, the latencies measured
    here include its own delay."""
    while time.monotonic() < until:
        asked = time.monotonic()
        await asyncio.sleep(0.1)
        if phase.counts(asked):
            phase.loop_lag.append(time.monotonic() - asked - 0.1)


async def pg_connections(phase: Phase, until: float) -> None:
    import psycopg

    def count() -> int:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            return c.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (DB,)
            ).fetchone()[0]

    while time.monotonic() < until:
        with contextlib.suppress(Exception):  # a missed sample is no figure
            phase.pg_connections = max(phase.pg_connections, await asyncio.to_thread(count))
        await asyncio.sleep(2)


async def paced(first: float, every: float, until: float, action) -> None:
    """``action()`` at first, first + every, ... while before ``until`` (a slow action delays
    the next, as a page's timer does not stack calls)."""
    if every <= 0:  # --every 0 / --chat-every 0: none of these
        return
    at = first
    while at < until:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        await action()
        at = max(at + every, time.monotonic())


# --- Live phase ------------------------------------------------------------------------------


class LivePage:
    """One person's room page with its socket (static/js/live.js, call.js, the room's htmx)."""

    def __init__(self, room: Room, role: str, http, phase: Phase, page_reads: bool):
        self.room, self.role, self.http, self.phase = room, role, http, phase
        self.key = room.coach_key if role == "coach" else room.client_key
        self.page_reads = page_reads
        self.ws = None
        self.state = ""  # the thread's state as this page last showed it
        self.refreshing = self.again = False
        self.badge_due = False

    async def connect(self) -> bool:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        url = (f"ws://127.0.0.1:{PORT}/ws/live/?session={self.room.session}"
               f"&conversation={self.room.conversation}")  # fmt: skip
        try:
            self.ws = await connect(
                url, additional_headers={"Cookie": _cookie(self.key)}, origin=BASE,
                open_timeout=TIMEOUT, ping_interval=None, close_timeout=5, max_queue=64,
            )  # fmt: skip
        except InvalidStatus as error:
            self.phase.errors[f"connect: HTTP {error.response.status_code}"] += 1
            return False
        except Exception as error:
            self.phase.errors[f"connect: {type(error).__name__}"] += 1
            return False
        self.phase.sockets["opened"] += 1
        asyncio.get_running_loop().create_task(self.read())
        return True

    async def read(self) -> None:
        room, phase = self.room, self.phase
        try:
            async for raw in self.ws:
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "signal":
                    if self.role == "coach" and event.get("sender") == room.client_uid:
                        if room.signals:
                            phase.seen("signal", room.signals.popleft())
                        else:
                            phase.errors["signal seen twice"] += 1
                elif kind == "error" and event.get("about") == "say":
                    phase.errors[f"chat line refused: {event.get('error')}"] += 1
                    self.unsaid(event.get("ref"))
                elif kind == "error":
                    phase.errors[f"signal refused: {event.get('error')}"] += 1
                    if room.signals:
                        room.signals.popleft()
                elif kind == "read" and self.role == "coach":
                    phase.reads["receipts"] += 1
                elif kind == "message":
                    if "html" not in event:
                        self.refresh()  # a trigger without the line: the thread reads again
                    elif self.role == "client":
                        if room.chats:
                            phase.seen("chat", room.chats.popleft()[1])
                        else:
                            phase.errors["chat seen twice"] += 1
                        if self.page_reads:
                            asyncio.get_running_loop().create_task(self.mark_read(event["id"]))
                elif (kind == "unread" and self.page_reads and not self.badge_due
                      and not isinstance(event.get("count"), int)):  # fmt: skip
                    # live.js shows a count the event carries; without one the badge asks,
                    # once for a burst (htmx's "delay:300ms").
                    self.badge_due = True
                    asyncio.get_running_loop().create_task(self.badge())
        except Exception as error:
            phase.errors[f"socket: {type(error).__name__}"] += 1
        finally:
            phase.sockets["closed"] += 1
            code = self.ws.close_code
            if code not in (None, 1000) and not phase.sockets.get("stopping"):
                phase.errors[f"socket closed by the server: {code}"] += 1

    def refresh(self) -> None:
        """The thread's hx-get on hse:message/read/unread: one request at a time, and once
        more after it if another event came meanwhile."""
        if not self.page_reads:
            return
        if self.refreshing:
            self.again = True
            return
        self.refreshing = True
        asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        try:
            for _ in range(3):
                self.again = False
                status, body = await request(
                    self.http, self.phase, "thread GET", "GET",
                    f"/messages/{self.room.conversation}/?since={self.state}", self.key,
                    headers={"HX-Request": "true", "HX-Target": "chat-thread"},
                )  # fmt: skip
                if status == 200:
                    self.state = _parse_state(body, self.state)
                if not self.again:
                    break
        finally:
            self.refreshing = False

    async def badge(self) -> None:
        await asyncio.sleep(0.3)
        self.badge_due = False
        await request(self.http, self.phase, "unread badge GET", "GET", "/messages/unread/",
                      self.key, headers={"HX-Request": "true"})  # fmt: skip

    async def mark_read(self, upto: int) -> None:
        """chat.js: the open thread added the line and says so over the socket (it is then
        read)."""
        read = {"type": "read", "upto": upto, "conversation": self.room.conversation}
        with contextlib.suppress(Exception):  # a closed socket is counted by read()
            await self.ws.send(json.dumps(read))
            self.phase.reads["sent"] += 1

    def unsaid(self, ref) -> None:
        """A line the server refused: nothing is coming for it."""
        for item in list(self.room.chats):
            if item[0] == ref:
                self.room.chats.remove(item)

    async def watch(self) -> None:
        await request(
            self.http, self.phase, "room watch GET", "GET",
            f"/sessions/{self.room.session}/room/?call=1&watch=1", self.key,
            headers={"HX-Request": "true"},
        )  # fmt: skip


async def send_signal_ws(page: LivePage) -> None:
    room, phase = page.room, page.phase
    sent = time.monotonic()
    if phase.counts(sent):
        phase.sent["signal"] += 1
    room.signals.append(sent)
    try:
        await page.ws.send(json.dumps(SIGNAL))
    except Exception as error:
        room.signals.pop()
        if phase.counts(sent):
            phase.errors[f"signal send: {type(error).__name__}"] += 1


def next_line(phase: Phase, room: Room) -> tuple[str, float]:
    """The room's next chat line, counted as sent now and awaited by the client's page."""
    room.lines += 1
    marker = f"bench line {room.n}.{room.lines}"
    sent = time.monotonic()
    if phase.counts(sent):
        phase.sent["chat"] += 1
    room.chats.append((marker, sent))
    return marker, sent


async def say_chat_ws(page: LivePage) -> None:
    """The coach writes in the room's chat panel: chat.js sends the form over the socket.
    The client's page must then see the line."""
    room, phase = page.room, page.phase
    marker, sent = next_line(phase, room)
    line = {"type": "say", "body": marker, "ref": marker, "conversation": room.conversation}
    try:
        await page.ws.send(json.dumps(line))
    except Exception as error:
        room.chats.remove((marker, sent))
        if phase.counts(sent):
            phase.errors[f"chat send: {type(error).__name__}"] += 1


async def post_chat(http, phase: Phase, room: Room, coach_page) -> None:
    """The coach writes in the room's chat panel (htmx posts the form; the answer is the
    thread, swapped in). The client's page must then see the line."""
    marker, sent = next_line(phase, room)
    status, body = await request(
        http, phase, "chat POST", "POST", f"/messages/{room.conversation}/", room.coach_key,
        data={"body": marker}, headers={"HX-Request": "true", "HX-Target": "chat-thread"},
    )  # fmt: skip
    if status == 200 and marker.encode() in body:
        coach_page.state = _parse_state(body, coach_page.state)
        return
    # Not sent: nothing is coming for it.
    if (marker, sent) in room.chats:
        room.chats.remove((marker, sent))
    if phase.counts(sent):
        phase.errors[f"chat POST refused ({status})"] += 1


async def live_phase(rooms: list[Room], args) -> Phase:
    import aiohttp

    phase = Phase("live", len(rooms))
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=TIMEOUT),
    ) as http:  # fmt: skip
        pages = [(LivePage(r, "coach", http, phase, args.page_reads),
                  LivePage(r, "client", http, phase, args.page_reads)) for r in rooms]  # fmt: skip
        # Connections come gradually (--ramp a second), the client's and the coach's of a
        # room one after the other.
        ramp_started = time.monotonic()
        connecting = []
        everyone = [page for pair in pages for page in pair]
        for i, page in enumerate(everyone):
            await asyncio.sleep(max(0.0, ramp_started + i / args.ramp - time.monotonic()))
            connecting.append(asyncio.ensure_future(page.connect()))
        await asyncio.gather(*connecting)
        ramp = time.monotonic() - ramp_started
        connected = sum(1 for p in everyone if p.ws is not None)
        print(f"live: {connected} of {len(everyone)} sockets connected in {ramp:.1f} s "
              f"({len(everyone) - connected} failed)")  # fmt: skip
        t0 = time.monotonic() + 1
        phase.window = (t0 + args.warmup, t0 + args.warmup + args.seconds)
        stop = phase.window[1]
        tasks = []
        for coach, client in pages:
            rng = random.Random(coach.room.n)
            if client.ws is not None and coach.ws is not None:
                tasks.append(paced(t0 + rng.uniform(0, args.every), args.every, stop,
                                   lambda client=client: send_signal_ws(client)))  # fmt: skip
                tasks.append(paced(t0 + rng.uniform(0, args.chat_every), args.chat_every, stop,
                                   lambda c=coach: say_chat_ws(c)))  # fmt: skip
            for page in (coach, client):
                if page.ws is not None and args.watch_every:
                    tasks.append(
                        paced(t0 + rng.uniform(0, args.watch_every), args.watch_every, stop,
                              page.watch)
                    )  # fmt: skip
        meter = await measure(phase, tasks, args)
        print_phase(phase, meter)
        phase.sockets["open at the end"] = sum(
            1 for p in everyone if p.ws is not None and p.ws.close_code is None
        )
        phase.sockets["stopping"] = 1
        closing = [p.ws.close() for p in everyone if p.ws is not None]
        await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 60)
    return phase


async def measure(phase: Phase, tasks: list, args) -> CpuMeter:
    """Runs the phase's tasks; samples the CPU over the window; waits GRACE seconds for the
    events still on their way."""
    stop = phase.window[1]
    meter = CpuMeter(args.server.proc.pid)
    monitors = [loop_lag(phase, stop), pg_connections(phase, stop)]
    running = asyncio.gather(*tasks, *monitors)
    await asyncio.sleep(max(0.0, phase.window[0] - time.monotonic()))
    meter.start()
    load = os.getloadavg()[0]
    await meter.run(stop)
    phase.cpu = meter.result()
    phase.load = (load, os.getloadavg()[0])
    await running
    await asyncio.sleep(GRACE)
    return meter


# --- Polling phase ---------------------------------------------------------------------------


class PollPage:
    """One person's room page polling as today (call.js, the room's htmx without a socket)."""

    def __init__(self, room: Room, role: str, http, phase: Phase):
        self.room, self.role, self.http, self.phase = room, role, http, phase
        self.key = room.coach_key if role == "coach" else room.client_key
        self.after = 0
        self.state = ""

    async def signals(self, stop: float) -> None:
        room = self.room
        while time.monotonic() < stop:
            status, body = await request(
                self.http, self.phase, "signals GET", "GET",
                f"/sessions/{room.session}/signals/?after={self.after}", self.key,
            )  # fmt: skip
            if status == 200:
                for signal in json.loads(body)["signals"]:
                    if signal["id"] <= self.after:
                        continue
                    self.after = signal["id"]
                    if self.role == "coach" and signal["kind"] == "media":
                        if room.signals:
                            self.phase.seen("signal", room.signals.popleft())
                        else:
                            self.phase.errors["signal seen twice"] += 1
            await asyncio.sleep(0.7)

    async def thread(self) -> None:
        room = self.room
        status, body = await request(
            self.http, self.phase, "thread GET", "GET",
            f"/messages/{room.conversation}/?since={self.state}", self.key,
            headers={"HX-Request": "true", "HX-Target": "chat-thread"},
        )  # fmt: skip
        if status != 200:
            return
        self.state = _parse_state(body, self.state)
        if self.role == "client":
            while room.chats and room.chats[0][0].encode() in body:
                self.phase.seen("chat", room.chats.popleft()[1])

    async def watch(self) -> None:
        await request(
            self.http, self.phase, "room watch GET", "GET",
            f"/sessions/{self.room.session}/room/?call=1&watch=1", self.key,
            headers={"HX-Request": "true"},
        )  # fmt: skip

    async def badge(self) -> None:
        await request(self.http, self.phase, "unread badge GET", "GET", "/messages/unread/",
                      self.key, headers={"HX-Request": "true"})  # fmt: skip


async def post_signal(http, phase: Phase, room: Room) -> None:
    """call.js without a socket: the signal is posted over HTTP."""
    sent = time.monotonic()
    if phase.counts(sent):
        phase.sent["signal"] += 1
    room.signals.append(sent)
    status, _ = await request(
        http, phase, "signal POST", "POST", f"/sessions/{room.session}/signals/", room.client_key,
        data=json.dumps({"kind": SIGNAL["kind"], "data": SIGNAL["data"]}),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    if status != 201:
        if sent in room.signals:
            room.signals.remove(sent)
        if phase.counts(sent):
            phase.errors[f"signal POST refused ({status})"] += 1


async def polling_phase(rooms: list[Room], args) -> Phase:
    import aiohttp

    phase = Phase("polling", len(rooms))
    # A browser keeps at most 6 connections to a host; the pages' loops are 4 at most.
    connector = aiohttp.TCPConnector(limit=args.polling_connections)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=TIMEOUT),
    ) as http:  # fmt: skip
        t0 = time.monotonic() + 1
        phase.window = (t0 + args.warmup, t0 + args.warmup + args.seconds)
        stop = phase.window[1]
        tasks = []
        for room in rooms:
            rng = random.Random(room.n)
            coach, client = (
                PollPage(room, "coach", http, phase),
                PollPage(room, "client", http, phase),
            )
            tasks.append(paced(t0 + rng.uniform(0, args.every), args.every, stop,
                               lambda room=room: post_signal(http, phase, room)))  # fmt: skip
            tasks.append(paced(t0 + rng.uniform(0, args.chat_every), args.chat_every, stop,
                               lambda room=room, c=coach: post_chat(http, phase, room, c)))  # fmt: skip
            for page in (coach, client):
                tasks.append(_after(t0 + rng.uniform(0, 0.7), page.signals(stop)))
                tasks.append(paced(t0 + rng.uniform(0, 2), 2, stop, page.watch))
                tasks.append(paced(t0 + rng.uniform(0, 3), 3, stop, page.thread))
                tasks.append(paced(t0 + rng.uniform(0, 30), 30, stop, page.badge))
        await measure(phase, tasks, args)
    return phase


async def _after(at: float, coroutine) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    await coroutine


# --- Report ----------------------------------------------------------------------------------


def _q(values: list[float], q: float) -> float:
    """The q-quantile of figures already in milliseconds (bench.run.pct takes seconds)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _lat(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{_q(values, 0.5):.0f} / {_q(values, 0.95):.0f} / {_q(values, 0.99):.0f} / {max(values):.0f}"


def lost(phase: Phase, rooms: list[Room]) -> collections.Counter:
    """Events sent in the window and never seen by the other page (after GRACE seconds)."""
    missing = collections.Counter()
    for room in rooms:
        missing["signal"] += sum(1 for t in room.signals if phase.counts(t))
        missing["chat"] += sum(1 for _, t in room.chats if phase.counts(t))
        room.signals.clear()
        room.chats.clear()
    return missing


def print_phase(phase: Phase, meter) -> None:
    """The HTTP table of a phase (the event figures come in the summary)."""
    print(f"\n{phase.name}: {phase.rooms} rooms, HTTP requests started in the window")
    print(
        f"{'request':<18}{'n':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'req/s':>8}"
    )
    seconds = phase.window[1] - phase.window[0]
    for name in sorted(phase.http.times):
        times = phase.http.times[name]
        print(f"{name:<18}{len(times):>8}{pct(times, .5):>9.1f}{pct(times, .95):>9.1f}"
              f"{pct(times, .99):>9.1f}{phase.http.errors.get(name, 0):>8}"
              f"{len(times) / seconds:>8.1f}")  # fmt: skip
    for (name, code), count in sorted(phase.http.codes.items(), key=str):
        print(f"  error {name}: {code} x{count}")


OURS = ("server", "postgres", "redis", "generator")


def _per_event(phase: Phase, seconds: float) -> float:
    """The server's CPU milliseconds for each signal or chat line sent in the window (with
    everything else it did meanwhile: sockets, page reads, polls)."""
    events = phase.sent["signal"] + phase.sent["chat"]
    return phase.cpu.get("server", 0) / 100 * seconds * 1000 / max(1, events)


def summary(phases: list[Phase], args) -> None:
    cores = os.cpu_count() or 1
    rows = [
        (
            "server",
            lambda p: (
                p.name
                + (
                    " (WebSockets, ASGI)"
                    if p.name == "live"
                    else f" ({args.polling_server.upper()})"
                )
            ),
        ),
        ("rooms / pages", lambda p: f"{p.rooms} / {2 * p.rooms}"),
        (
            "sockets open / failed",
            lambda p: (
                f"{p.sockets['opened']} / {sum(v for k, v in p.errors.items() if k.startswith('connect'))}"
                if p.name == "live"
                else "-"
            ),
        ),
        ("sockets open at the end", lambda p: str(p.sockets.get("open at the end", "-"))),
        (
            "signals sent / seen / lost",
            lambda p: f"{p.sent['signal']} / {len(p.signal_ms)} / {p.missing['signal']}",
        ),
        ("signal ms p50/p95/p99/max", lambda p: _lat(p.signal_ms)),
        (
            "chat lines sent / seen / lost",
            lambda p: f"{p.sent['chat']} / {len(p.chat_ms)} / {p.missing['chat']}",
        ),
        ("chat ms p50/p95/p99/max", lambda p: _lat(p.chat_ms)),
        (
            "lines read / their receipts (whole phase)",
            lambda p: f"{p.reads['sent']} / {p.reads['receipts']}" if p.name == "live" else "-",
        ),
        (
            "HTTP req/s, errors",
            lambda p: (
                f"{sum(map(len, p.http.times.values())) / args.seconds:.0f}, "
                f"{sum(p.http.errors.values())}"
            ),
        ),
        ("other errors", lambda p: str(sum(p.errors.values()))),
        (
            "server CPU ms per event (a signal or a line)",
            lambda p: f"{_per_event(p, args.seconds):.1f}",
        ),
        (f"server CPU % (of {cores * 100})", lambda p: f"{p.cpu.get('server', 0):.0f}"),
        (
            "PostgreSQL / Redis CPU %",
            lambda p: f"{p.cpu.get('postgres', 0):.0f} / {p.cpu.get('redis', 0):.0f}",
        ),
        ("generator CPU %", lambda p: f"{p.cpu.get('generator', 0):.0f}"),
        ("machine busy %", lambda p: f"{p.cpu.get('machine', 0):.0f}"),
        (
            "others' CPU % (machine - above)",
            lambda p: f"{p.cpu.get('machine', 0) - sum(p.cpu.get(k, 0) for k in OURS):.0f}",
        ),
        ("load average, start / end", lambda p: f"{p.load[0]:.1f} / {p.load[1]:.1f}"),
        (
            "generator loop lag p95 ms",
            lambda p: f"{pct(p.loop_lag, 0.95) if p.loop_lag else 0:.0f}",
        ),
        ("PostgreSQL connections max", lambda p: str(p.pg_connections)),
    ]
    width = 34
    print(f"\nsummary: {args.seconds} s measured a phase, a signal every {args.every} s and a chat "
          f"line every {args.chat_every} s per room; {cores} cores")  # fmt: skip
    print(f"live pages: page reads {'on' if args.page_reads else 'off'}, room watcher every "
          f"{args.watch_every or '-'} s; connection pool of {args.db_pool} a worker")  # fmt: skip
    print(f"{'':<32}" + "".join(f"{p.name:>{width}}" for p in phases))
    for label, value in rows:
        print(f"{label:<32}" + "".join(f"{value(p):>{width}}" for p in phases))
    for p in phases:
        for kind, count in sorted(p.errors.items()):
            print(f"  {p.name}: {kind} x{count}")
    live = next((p for p in phases if p.name == "live"), None)
    if live:
        p95 = max(_q(live.signal_ms, 0.95), _q(live.chat_ms, 0.95))
        failures = (
            sum(live.errors.values())
            + sum(live.http.errors.values())
            + live.missing["signal"]
            + live.missing["chat"]
        )
        held = (p95 < 250 and live.cpu.get("server", 999) < cores * 50 and not failures
                and live.sockets["opened"] == 2 * live.rooms
                and live.sockets.get("open at the end") == 2 * live.rooms)  # fmt: skip
        print(f"\ntarget (every socket open throughout, nothing lost or refused, p95 < 250 ms, "
              f"server < {cores * 50}% CPU): {'held' if held else 'MISSED'} (p95 "
              f"{f'{p95:.0f} ms' if live.signal_ms or live.chat_ms else '-: nothing seen'}, "
              f"{failures} errors or lost, server "
              f"{live.cpu.get('server', 0):.0f}%)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60, help="measured a phase")
    parser.add_argument(
        "--every", type=float, default=5.0, help="seconds between a room's signals (0: none)"
    )
    parser.add_argument(
        "--chat-every", type=float, help="seconds between a room's chat lines (--every; 0: none)"
    )
    parser.add_argument("--polling-rooms", type=int, help="rooms in the polling phase (--rooms)")
    parser.add_argument("--polling-server", choices=("wsgi", "asgi"), default="wsgi")
    parser.add_argument("--polling-connections", type=int, default=4000,
                        help="the generator's open HTTP connections at most, polling")  # fmt: skip
    parser.add_argument("--phases", default="live,polling")
    parser.add_argument("--ramp", type=float, default=100.0, help="sockets opened a second")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the window")
    parser.add_argument("--page-reads", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--db-connections",
        type=int,
        default=40,
        help="PostgreSQL connections the server may hold at once (its role's limit)",
    )
    parser.add_argument(
        "--db-pool",
        type=int,
        default=10,
        help="DB_POOL_MAX for the server: its pooled connections a worker (the project's 10)",
    )
    parser.add_argument(
        "--watch-every",
        type=float,
        default=0.0,
        help="seconds between a live page's room watcher requests (0, as the pages: none)",
    )
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    if args.chat_every is None:
        args.chat_every = args.every
    phases_wanted = args.phases.split(",")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = 2 * args.rooms + 200
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need + args.polling_connections:
        print(f"warning: open files limited to {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}")
    if not args.skip_build:
        rebuild(max(args.rooms, args.polling_rooms or 0))
    server_env = {"DB_POOL_MAX": str(args.db_pool)}
    rooms = prepare(max(args.rooms, args.polling_rooms or 0))
    server_role(args.db_connections)
    print(f"machine: {os.cpu_count()} cores; PostgreSQL {DB}; Redis {REDIS_URL}; "
          f"open files {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}; "
          f"the server's PostgreSQL role "
          f"{ROLE} limited to {args.db_connections} connections")  # fmt: skip
    phases = []
    for name in ("live", "polling"):
        if name not in phases_wanted:
            continue
        count = args.rooms if name == "live" else (args.polling_rooms or args.rooms)
        reset_rows()
        flush_redis()
        kind = "asgi" if name == "live" else args.polling_server
        args.server = Server(kind, args.workers, server_env)
        try:
            args.server.start()
            runner = live_phase if name == "live" else polling_phase
            phase = asyncio.run(runner(rooms[:count], args))
        finally:
            args.server.stop()
        phase.missing = lost(phase, rooms)
        if name == "polling":
            print_phase(phase, None)
        phases.append(phase)
    summary(phases, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
