"""HSE settings.

Everything comes from the environment, parsed strictly (see ``hse.env``). With nothing set,
the embedded local default serves: SQLite, Celery on the filesystem broker, a file cache
and console email. ``HSE_ENV=production`` switches on the production defaults (mandatory
email verification, secure cookies, a required secret key).
"""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from hse.env import (
    EnvError,
    env_bool,
    env_choice,
    env_int,
    env_json_list,
    env_list,
    env_str,
    env_timezone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("HSE_VAR_DIR", str(BASE_DIR / "var")))

HSE_ENV = env_choice("HSE_ENV", "development", ("development", "production"))
PRODUCTION = HSE_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = env_str("SECRET_KEY")
if SECRET_KEY is None:
    if PRODUCTION:
        raise EnvError("SECRET_KEY must be set when HSE_ENV=production")
    # Development only: production refuses to start without SECRET_KEY (above).
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105  # nosec B105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", ("http", "https"))

INSTALLED_APPS = [
    "daphne",  # runserver serves ASGI (pages and their WebSockets) on make run
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "channels",
    "hse.apps.HseConfig",
    "accounts",
    "coaching",
    "ledger",
    "sessions_app",
    "messaging",
    "payouts",
    "payments",
    "requests_app",
    "marketplace",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.TimezoneMiddleware",
]

ROOT_URLCONF = "hse.urls"
WSGI_APPLICATION = "hse.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hse.context_processors.site",
                "marketplace.context_processors.pending",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

DATABASE_URL = env_url("DATABASE_URL", None, ("postgres", "postgresql", "sqlite"))
if DATABASE_URL:
    _db = dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0)
    )
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "hse.sqlite3")}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction begins, so two writers queue up
    # instead of one failing half-way with "database is locked".
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    _db["CONN_MAX_AGE"] = 0
    # Tests on SQLite use a file too: an in-memory database shares one cache whose table
    # locks ignore the busy timeout, so threaded live-server tests would fail on it.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    # Django's connection pool (psycopg_pool), one per process: under ASGI each request runs
    # in a thread of its own, and a persistent connection per thread ran PostgreSQL out of
    # connections at 50 live rooms (docs/benchmark.md); a pool bounds them and keeps them
    # open. DB_POOL_MAX=0 turns it off for persistent connections (DB_CONN_MAX_AGE) instead.
    _pool_max = env_int("DB_POOL_MAX", 10, minimum=0)
    if _pool_max:
        _db["CONN_MAX_AGE"] = 0  # the pool keeps the connections; Django must not
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": _pool_max,
            "timeout": env_int("DB_POOL_TIMEOUT", 10, minimum=1),
        }
    else:
        _db["CONN_HEALTH_CHECKS"] = True
    # Parameters bound by the server, and a query prepared once it has run five times on a
    # connection: PostgreSQL then plans a page's queries once per connection instead of on
    # every request (docs/benchmark.md). Behind a pooler in transaction mode that cannot
    # keep prepared statements, set it to false.
    if env_bool("DB_PREPARED_STATEMENTS", True):
        _db.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USES_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"

# --- Cache, Celery --------------------------------------------------------------------------

REDIS_URL = env_url("REDIS_URL", None, ("redis", "rediss"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "hse.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "hse"),
            # Fail fast when Redis is away: pages are served without the cache.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Push to pages (hse.live): through Redis between processes in production; in this process's
# memory on the embedded default, where the web server is the one process pages talk to.
ASGI_APPLICATION = "marketplace.asgi.application"
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: a group send is one PUBLISH and each process reads all its sockets'
            # messages as they come. The core layer received one message at a time per
            # process, seconds late at 100 rooms (docs/benchmark.md). Redis's channels ignore
            # the database number, so the prefix carries it: two sites on one Redis, or two
            # test runs, never hear each other.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": "-".join(
                    (
                        env_str("CACHE_KEY_PREFIX", "hse"),
                        "live",
                        urlsplit(REDIS_URL).path[1:] or "0",
                    )
                ),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", REDIS_URL or "filesystem://", ("redis", "rediss", "amqp", "filesystem")
)
CELERY_RESULT_BACKEND = env_url(
    "CELERY_RESULT_BACKEND", REDIS_URL, ("redis", "rediss", "file", "django-db")
)
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
    # The filesystem transport expects its folders to exist; web and worker both write here.
    for _folder in ("queue", "processed", "control"):
        (VAR_DIR / "celery" / _folder).mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A task a dead worker took (acknowledged late) goes back to the queue after this many
    # seconds; it must exceed the longest task. Abandoned tasks are looked for about as
    # often as one can fall due.
    _visibility = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _visibility,
        "unacked_restore_interval": min(10, max(1, _visibility // 4)),
        "unacked_restore_throttle": 1 if _visibility < 600 else 10,
    }
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "hse")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
# No task's answer is read but the ping's: storing them, and listening for each on the result
# backend whenever a task is sent from a request, is waste.
CELERY_TASK_IGNORE_RESULT = True
# Queuing must not hang a request when the broker is away: one quick retry, then the caller
# falls back (emails are then sent in-process).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Our own beat schedule lives in hse/schedules.py and is written to the database on migrate.

# --- Accounts -------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION",
    "mandatory" if PRODUCTION else "optional",
    ("none", "optional", "mandatory"),
)
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# allauth's forms with our labels (accounts/forms.py); the sign-up one adds our own fields.
ACCOUNT_FORMS = {
    "login": "accounts.forms.LoginForm",
    "signup": "accounts.forms.SignupForm",
    "reset_password": "accounts.forms.ResetPasswordForm",  # nosec B105: a form class, not a password
    "reset_password_from_key": "accounts.forms.ResetPasswordKeyForm",  # nosec B105: a form class, not a password
    "change_password": "accounts.forms.ChangePasswordForm",  # nosec B105: a form class, not a password
    "set_password": "accounts.forms.SetPasswordForm",  # nosec B105: a form class, not a password
    "add_email": "accounts.forms.AddEmailForm",
    "reauthenticate": "accounts.forms.ReauthenticateForm",
}
ACCOUNT_ADAPTER = "coaching.adapter.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[HSE] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
# Behind a proxy every visitor's address is the proxy's: allauth's limits per address (ten
# failed logins) would then lock everyone out together. Set it to the number of proxies that
# append to X-Forwarded-For in front of HSE (1 behind one load balancer); 0 trusts none.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("ALLAUTH_TRUSTED_PROXY_COUNT", 0, minimum=0)
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"

# --- Email ----------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "HSE <no-reply@hse.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    # With the file backend (EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend)
    # each batch of emails lands as one file here.
    EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "emails"))

# --- Stripe (used by payments) --------------------------------------------------------------

STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# The Connect endpoint's own signing secret (events about coaches' connected accounts).
STRIPE_CONNECT_WEBHOOK_SECRET = env_str("STRIPE_CONNECT_WEBHOOK_SECRET")
STRIPE_API_BASE = env_url("STRIPE_API_BASE", None, ("http", "https"))
# Test keys (and the local stand-in) make the site say that payments are in test mode.
STRIPE_TEST_MODE = not (STRIPE_SECRET_KEY or "").startswith("sk_live_")

# --- Video calls (WebRTC) ----------------------------------------------------------------------

# ICE servers for the browsers, as the JSON list RTCPeerConnection takes, e.g.
# [{"urls": "stun:stun.example.org:3478"},
#  {"urls": "turn:turn.example.org:3478", "username": "hse", "credential": "..."}].
# Empty: host candidates only, which connect browsers on one machine or one LAN.
ICE_SERVERS = env_json_list("ICE_SERVERS", [])

# --- Internationalisation, static files -----------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The site is in English only. With translations on, every date and number a template shows
# asks the translation machinery for its language and its names of days and months, a large
# share of a page's work (docs/benchmark.md). Django's and allauth's strings are their English.
USE_I18N = False
USE_TZ = True
FORMAT_MODULE_PATH = ["hse.formats"]  # datetimes without a format of ours carry their zone
DEFAULT_USER_TIME_ZONE = env_timezone("DEFAULT_USER_TIME_ZONE", "UTC")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Security -------------------------------------------------------------------------------

# Sessions are read from the cache and written through to the database, so a page does not
# query the session table (and sessions survive a cache flush or a Redis outage).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
    },
}

# --- Product rules (SPEC "settings": change them here, never in code) -----------------------

HSE_CURRENCY = env_str("HSE_CURRENCY", "USD")
HSE_SESSION_DURATIONS = (30, 45, 60)
HSE_SLOT_GRID_MINUTES = 15
HSE_DEFAULT_MINIMUM_NOTICE_MINUTES = 12 * 60
HSE_COACH_PAGE_SLOT_DAYS = 28  # the coach page computes four weeks of slots
HSE_CATALOG_PAGE_SIZE = 24
HSE_PACKAGE_SIZES = (5, 10, 20)
HSE_HOLD_MINUTES = 30  # a checkout holds its slot this long (Stripe's shortest expiry)
HSE_BOOKING_DAYS = 28  # how far ahead the buy flow and scheduling offer times
# Nothing may be booked, requested or taken off further ahead than this (SPEC 1).
HSE_BOOKING_HORIZON_DAYS = 180
# Coaches' external busy calendars (coaching.busy_calendars): how many per coach, how often
# each is read again, and the limits of one read. Reading an address a coach typed is a way
# into our network: only public addresses are fetched, unless ALLOW_PRIVATE (tests serving
# a calendar from this machine, a local development machine) says otherwise: True for every
# loopback and private address, or a set of addresses (the tests' server); link-local and
# metadata addresses are refused even then.
HSE_BUSY_CALENDARS_PER_COACH = 5
HSE_BUSY_CALENDAR_REFRESH_MINUTES = 30
HSE_CALENDAR_FETCH_TIMEOUTS = (5, 15)  # seconds: to connect, for the whole read
HSE_CALENDAR_FETCH_MAX_BYTES = 2 * 1024 * 1024
HSE_CALENDAR_FETCH_MAX_REDIRECTS = 3
HSE_CALENDAR_FETCH_ALLOW_PRIVATE = env_bool("HSE_CALENDAR_FETCH_ALLOW_PRIVATE", False)
# Checkouts a client may have waiting for payment at once, each holding a slot.
HSE_MAX_OPEN_CHECKOUTS = 3
# Session requests (SPEC 4): at least this many hours between sending and the start...
HSE_REQUEST_MIN_NOTICE_HOURS = 24
# ...and the answer deadline, in hours before the start, by how long before the start the
# latest proposal was sent (at least N hours) and by the sender's role.
HSE_REQUEST_DEADLINES = (
    (72, {"client": 24, "coach": 48}),
    (48, {"client": 16, "coach": 32}),
    (24, {"client": 8, "coach": 16}),
)
# The session lifecycle (SPEC 5).
HSE_ROOM_OPENS_MINUTES_BEFORE = 15
HSE_COACH_LATE_MINUTES = 5  # after the start without a coach start: Report appears
HSE_LATE_NOTICE_MINUTES = (5, 10)  # the coach's one-tap "I'm N minutes late" in the lobby
HSE_AUTO_END_MINUTES_AFTER = 15  # after the scheduled end, a session still open ends
HSE_AUTO_CONFIRM_HOURS = 72  # after the end, an unreported session is confirmed
HSE_CLIENT_CANCEL_HOURS = 24  # a client cancelling later than this loses the credit
HSE_COACH_LATE_CANCEL_HOURS = 24  # a coach cancelling later than this gets a record
HSE_RATING_DAYS = 14  # a confirmed session not yet rated may be rated this long after
HSE_REMINDERS_MINUTES_BEFORE = (24 * 60, 15)  # the day-before and the starting-soon emails
HSE_PLATFORM_FEE_PERCENT = 15
# Packages (issue 22): a credit may be scheduled for this many months after its purchase;
# the client is reminded these many days before, may ask the coach for this many months
# more, and an unused credit left at its expiry goes back to the wallet at its price. A
# credit given back (a cancelled session) this close to its expiry gets these days again.
HSE_PACKAGE_VALIDITY_MONTHS = 6
HSE_PACKAGE_EXPIRY_REMINDER_DAYS = (14, 3)
HSE_PACKAGE_EXTENSION_MONTHS = 3
# A question for more time the coach leaves this long unanswered lapses (declined), and the
# package's expiry, which waited for the answer, goes on.
HSE_EXTENSION_ANSWER_DAYS = 7
HSE_CREDIT_GIVEN_BACK_DAYS = 14
# A coach may offer each client one trial session of this length, free or at their price,
# and a discount per package size of at most this many per cent.
HSE_TRIAL_MINUTES = 30
HSE_MAX_PACKAGE_DISCOUNT_PERCENT = 50
HSE_TOP_UP_LIMITS = (500, 100_000)  # minor units: $5 to $1,000 per top-up
# Payouts to coaches.
HSE_PAYOUT_LIMITS = (1000, 300_000)  # minor units: $10 to $3,000 per payout
HSE_AUTO_PAYOUT_WEEKDAY = 0  # Monday (UTC): the weekly automatic payout, for those who chose it
HSE_ONBOARDING_REMINDER_HOURS = 24  # Stripe onboarding started, not finished: one email after
# Messages (SPEC 11).
HSE_MESSAGE_MAX_LENGTH = 2000  # characters in one message
HSE_NEW_CONVERSATIONS_PER_DAY = 5  # new conversations a client may start in 24 hours
HSE_UNREAD_EMAIL_MINUTES = 10  # a message unread this long emails its recipient (once)
HSE_THREAD_PAGE_SIZE = 100  # messages a thread shows at a time, the latest first
HSE_CONVERSATIONS_PAGE_SIZE = 30  # conversations the Messages page lists at a time
