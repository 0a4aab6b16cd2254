"""A Redis cache that degrades instead of failing: with Redis down, reads miss and writes
are dropped (logged), so pages keep serving. Rate limits then fail open until Redis is back
(a choice: locking everyone out of login during a cache outage is worse)."""

import functools
import logging
from uuid import uuid4

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
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
    """Django builds a new redis.Redis around its connection pool for every cache call
    (65 µs, about half a GET's round trip). One per pool serves them all: the pool hands
    out the connections, and a redis.Redis may be shared between threads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shared = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        if (client := self._shared.get(pool)) is None:
            client = self._shared[pool] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedClient

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
# A cached value that a change must replace lives under its owner's current version; the
# change gives the owner a new version. A page that read the old rows while the change
# committed stores them under the old version, which nobody reads any more (deleting the
# key instead would let that page put the old value back).


def _version_key(family: str, owner) -> str:
    return f"{family}-version:{owner}"


def get_or_set_versioned(family: str, owner, read, *, timeout: int, part: str = ""):
    """``read()``, kept for ``timeout`` seconds under ``owner``'s current version in
    ``family`` (and ``part``, for a value that also changes with something else)."""
    return get_or_set_many_versioned(family, {owner: read}, timeout=timeout, part=part)[owner]


def get_or_set_many_versioned(
    family: str, reads: dict, *, timeout: int, part: str = "", usable=None
) -> dict:
    """{owner: value} for several owners at once (two round trips in all when everything is
    in the cache): as ``get_or_set_versioned``, with ``reads`` mapping each owner to its
    ``read``; a kept value that ``usable(value)`` refuses is read again. The versions are
    read first and the values after: a change that commits meanwhile gives its owner a new
    version after this has read its rows."""
    from django.core.cache import cache

    version_keys = {owner: _version_key(family, owner) for owner in reads}
    versions = cache.get_many(list(version_keys.values()))
    if made := {key: uuid4().hex for key in version_keys.values() if key not in versions}:
        cache.set_many(made, None)
        versions |= made
    keys = {
        owner: f"{family}:{owner}:{versions[key]}:{part}" for owner, key in version_keys.items()
    }
    found = cache.get_many(list(keys.values()))
    values = {
        owner: found[key]
        for owner, key in keys.items()
        if key in found and (usable is None or usable(found[key]))
    }
    if missing := {owner: reads[owner]() for owner in reads if owner not in values}:
        cache.set_many({keys[owner]: value for owner, value in missing.items()}, timeout)
        values |= missing
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
