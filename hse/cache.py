"""A Redis cache that degrades instead of failing: with Redis down, reads miss and writes
are dropped (logged), so pages keep serving. Rate limits then fail open until Redis is back
(a choice: locking everyone out of login during a cache outage is worse)."""

import functools
import logging
import threading
from uuid import uuid4

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
FAILURES = (RedisConnectionError, RedisTimeoutError, OSError)


def _tolerant(default):
    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except FAILURES as error:
                log.warning("cache %s failed, served without it: %s", method.__name__, error)
                return default(args, kwargs) if callable(default) else default

        return call

    return wrap


def _default_value(args, kwargs):
    return kwargs.get("default", args[1] if len(args) > 1 else None)


class _SharedClient(RedisCacheClient):
    """Django builds a new redis.Redis around its connection pool for every cache call, which
    costs about as much as the call itself. One per pool serves them all: the pool hands
    out the connections, and a redis.Redis may be shared between threads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shared = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        if (client := self._shared.get(pool)) is None:
            client = self._shared[pool] = self._client(connection_pool=pool)
        return client


_clients: dict[tuple, _SharedClient] = {}
_clients_lock = threading.Lock()


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedClient

    @cached_property
    def _cache(self):
        """One client, so one connection pool, per process and place: Django makes a cache
        object for every request's context (asgiref's Local), and each made its own pool,
        so every request served over ASGI connected to Redis anew."""
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _clients_lock:
            if (client := _clients.get(key)) is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client

    get = _tolerant(_default_value)(RedisCache.get)
    get_many = _tolerant({})(RedisCache.get_many)
    set = _tolerant(False)(RedisCache.set)
    # "Added" when Redis is away: callers that use add() as a lock (allauth's rate limits)
    # go ahead instead of waiting and refusing everyone.
    add = _tolerant(True)(RedisCache.add)
    touch = _tolerant(False)(RedisCache.touch)
    delete = _tolerant(False)(RedisCache.delete)
    has_key = _tolerant(False)(RedisCache.has_key)
    set_many = _tolerant([])(RedisCache.set_many)
    delete_many = _tolerant(None)(RedisCache.delete_many)
    clear = _tolerant(False)(RedisCache.clear)
    incr = _tolerant(0)(RedisCache.incr)


# --- Values kept under a version -------------------------------------------------------------
# A cached value that a change must replace is kept with the version its owner had when it
# was read; the change gives the owner a new version. A page that read the old rows while
# the change committed stores them with the old version, which no longer matches (deleting
# the key instead would let that page put the old value back). The version and the value
# are fetched together: one round trip to Redis when the value is there.


def _version_key(family: str, owner) -> str:
    return f"{family}-version:{owner}"


def get_or_set_versioned(
    family: str, owner, read, *, timeout: int, part: str = "", create: bool = True
):
    """``read()``, kept for ``timeout`` seconds under ``owner``'s current version in
    ``family`` (and ``part``, for a value that also changes with something else).
    ``create=False``: an owner with no version yet is read and not kept, for an owner named
    by a visitor (a page's id in its address), who could otherwise fill the cache with a
    version for every number; the owner's own page gives it one once it is known to exist."""
    return get_or_set_many_versioned(
        family, {owner: read}, timeout=timeout, part=part, create=create
    )[owner]


def get_or_set_many_versioned(
    family: str, reads: dict, *, timeout: int, part: str = "", usable=None, create: bool = True
) -> dict:
    """{owner: value} for several owners at once (one round trip when everything is in the
    cache): as ``get_or_set_versioned``, with ``reads`` mapping each owner to its ``read``;
    a kept value that ``usable(value)`` refuses is read again. An owner's version is known
    before its rows are read: a change that commits meanwhile gives it a new version, which
    the value kept here does not carry."""
    from django.core.cache import cache

    version_keys = {owner: _version_key(family, owner) for owner in reads}
    value_keys = {owner: f"{family}:{owner}:{part}" for owner in reads}
    found = cache.get_many([*version_keys.values(), *value_keys.values()])
    versions = {owner: found[key] for owner, key in version_keys.items() if key in found}
    if create and (made := {owner: uuid4().hex for owner in reads if owner not in versions}):
        # Given before the rows are read, so that a change committing meanwhile replaces it.
        cache.set_many({version_keys[owner]: version for owner, version in made.items()}, None)
        versions |= made
    values, fresh = {}, {}
    for owner, read in reads.items():
        kept = found.get(value_keys[owner])
        if owner not in versions:  # not to be kept: see create
            values[owner] = read()
        elif (
            kept is not None and kept[0] == versions[owner] and (usable is None or usable(kept[1]))
        ):
            values[owner] = kept[1]
        else:
            values[owner] = read()
            fresh[value_keys[owner]] = (versions[owner], values[owner])
    if fresh:
        cache.set_many(fresh, timeout)
    return values


def new_versions(family: str, owners) -> None:
    """What ``owners`` had cached in ``family`` is stale from now on."""
    from django.core.cache import cache

    cache.set_many({_version_key(family, owner): uuid4().hex for owner in owners}, None)


def new_versions_now_and_on_commit(family: str, owners) -> None:
    """For a change made in a transaction: now, so that what this transaction reads next is
    fresh, and again after the commit, for a page that read the old rows meanwhile."""
    from django.db import transaction

    owners = list(owners)
    if not owners:
        return
    new_versions(family, owners)
    transaction.on_commit(lambda: new_versions(family, owners))
