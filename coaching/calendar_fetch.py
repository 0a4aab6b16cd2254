"""Reads an iCal address a coach gave us, without letting it reach into our own network.

The address is someone's typing, so the fetch refuses what would make it a proxy into our
side: only http and https; the host is resolved once and every address it resolves to must
be public (no loopback, private, link-local — the cloud metadata services at 169.254.169.254
and fd00:ec2::254 —, shared, multicast or reserved ranges, also when wrapped in IPv6); the
connection goes to that checked address, never through a second lookup that a DNS server
could answer differently (rebinding); the lookup itself counts against the time limit, and
a public host is read only on the usual web ports. Redirects are followed by hand, each one
checked the same way, a few at most. The read stops at a size limit and a total time
limit, and sends the ETag and Last-Modified of the last good copy so an unchanged calendar
costs nothing.
``HSE_CALENDAR_FETCH_ALLOW_PRIVATE`` lets loopback and private addresses through (True), or
only the addresses it names (tests serving a calendar from this machine); link-local and
metadata addresses never. Only the standard library: nothing else decides where we connect."""

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings

REDIRECTS = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Cloud metadata services outside the link-local ranges (AWS over IPv6, Alibaba): refused
# even when private addresses are allowed.
METADATA = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
# The ports calendars are served on. Any other port on a public host is more likely a
# service someone wants us to knock on (mail, databases) than a calendar.
PORTS = {80, 443, 8080, 8443}


class FetchError(Exception):
    """Why a calendar could not be read, in words for its coach ("timed out")."""


@dataclass(frozen=True)
class Fetched:
    """A read: ``body`` None when the server said the copy we have is current (304)."""

    body: bytes | None
    etag: str = ""
    last_modified: str = ""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if any(ip in network for network in NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_allowed(address: str, *, allow_private=False) -> bool:
    """A public unicast address: not loopback, private, link-local, shared, multicast,
    reserved or unspecified, and not one of those wrapped in an IPv6 address.
    ``allow_private`` (HSE_CALENDAR_FETCH_ALLOW_PRIVATE): True lets loopback and private
    addresses through, a collection of addresses lets just those; link-local addresses (the
    metadata services among them), multicast and the unspecified address never pass."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a scope id (fe80::1%eth0) aside
    inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if inner is not None and not address_allowed(str(inner), allow_private=allow_private):
        return False
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip in METADATA:
        return False
    # fec0::/10, the deprecated site-local range: Python counts it as global.
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return False
    if allow_private is True or (allow_private and str(ip) in allow_private):
        return True
    return ip.is_global and not ip.is_reserved


def _check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an address we may fetch."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError("not a valid web address") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError("only http and https addresses can be read")
    if not parts.hostname or parts.username or parts.password:
        raise FetchError("not a valid web address")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def _lookup(host: str, port: int, *, timeout: float) -> list:
    """``getaddrinfo`` within ``timeout`` seconds: it takes none of its own, and a name
    server that never answers would hold the read past its time limit. The lookup runs in
    a thread that is left to finish on its own when it is late."""
    answer: dict = {}

    def look() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            answer["error"] = error

    worker = threading.Thread(target=look, daemon=True, name="calendar-dns")
    worker.start()
    worker.join(max(timeout, 0))
    if worker.is_alive():
        raise FetchError("timed out")
    if "error" in answer:
        raise FetchError("its host name was not found")
    return answer["infos"]


def resolve(host: str, port: int, *, allow_private, timeout: float = 5.0) -> str:
    """One checked address of ``host``. Every address it resolves to must pass: a host
    that answers with a public and a private address is refused rather than tried. A
    public host only on the usual web ports (PORTS); an address let through by
    ``allow_private`` on any."""
    infos = _lookup(host, port, timeout=timeout)
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise FetchError("its host name was not found")
    if not all(address_allowed(address, allow_private=allow_private) for address in addresses):
        raise FetchError("its address is not on the public internet")
    if port not in PORTS and any(ipaddress.ip_address(a.split("%", 1)[0]).is_global
                                 for a in addresses):  # fmt: skip
        raise FetchError("only the usual web ports (80, 443, 8080, 8443) can be read")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address we checked, while the request names the host."""

    def __init__(self, host, port, *, address, connect_timeout, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address, self._connect_timeout = address, connect_timeout

    def connect(self):
        self.sock = socket.create_connection(
            (self._address, self.port), timeout=self._connect_timeout
        )
        self.sock.settimeout(self.timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def connect(self):
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def _read(response, *, deadline: float, limit: int, sock) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FetchError("too large")
    chunks, size = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError("timed out")
        if sock is not None:
            sock.settimeout(left)
        chunk = response.read1(CHUNK) if hasattr(response, "read1") else response.read(CHUNK)
        if not chunk:
            if time.monotonic() >= deadline:  # the watchdog shut it: not the real end
                raise FetchError("timed out")
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise FetchError("too large")
        chunks.append(chunk)


def _shut(connection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


def fetch(url: str, *, etag: str = "", last_modified: str = "") -> Fetched:
    """GETs ``url`` under the rules above; raises FetchError with the reason."""
    connect_timeout, total = settings.HSE_CALENDAR_FETCH_TIMEOUTS
    limit = settings.HSE_CALENDAR_FETCH_MAX_BYTES
    allow_private = settings.HSE_CALENDAR_FETCH_ALLOW_PRIVATE
    deadline = time.monotonic() + total
    for _ in range(settings.HSE_CALENDAR_FETCH_MAX_REDIRECTS + 1):
        scheme, host, port, path = _check_url(url)
        address = resolve(
            host, port, allow_private=allow_private, timeout=deadline - time.monotonic()
        )
        kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError("timed out")
        connection = kind(
            host, port, address=address, connect_timeout=min(connect_timeout, left), timeout=left
        )
        headers = {"User-Agent": "HSE calendar reader", "Accept": "text/calendar, */*;q=0.5"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        # A server that drips its answer a byte at a time never trips a socket timeout:
        # at the deadline the socket is shut, whatever the read is waiting for.
        watchdog = threading.Timer(left, _shut, args=(connection,))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise FetchError(f"the server answered {response.status} without a place")
                url = urljoin(url, location)
                continue
            if response.status == 304:
                return Fetched(None, etag=etag, last_modified=last_modified)
            if response.status != 200:
                raise FetchError(f"the server answered {response.status}")
            body = _read(response, deadline=deadline, limit=limit, sock=connection.sock)
            return Fetched(
                body,
                etag=(response.getheader("ETag") or "")[:200],
                last_modified=(response.getheader("Last-Modified") or "")[:100],
            )
        except TimeoutError:
            raise FetchError("timed out") from None
        except (OSError, http.client.HTTPException) as error:
            if time.monotonic() >= deadline:
                raise FetchError("timed out") from None
            if isinstance(error, ssl.SSLError):
                raise FetchError("its secure connection failed") from None
            raise FetchError("could not connect") from None
        finally:
            watchdog.cancel()
            connection.close()
    raise FetchError("too many redirects")
