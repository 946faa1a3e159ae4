"""The httpx client behind ``HttpClient``: authentication by host and a transport made per
scheme on first use.

A module of its own because importing httpx (with httpcore, h11, ssl and
http.client) costs a warm install ~30 ms: ``HttpClient`` loads it with its first
request, and a warm install whose index pages are all fresh makes none.
"""

from __future__ import annotations

import netrc
import os
import threading
from collections.abc import Generator, Mapping
from pathlib import Path

import httpx

from omniwheel import __version__
from omniwheel.resolve.http import Credentials, host_key


class HostAuth(httpx.Auth):
    """Basic authentication for the hosts the configuration named credentials for, else
    from ``~/.netrc`` (or ``$NETRC``), read once and only if it exists."""

    def __init__(self, credentials: Mapping[str, Credentials]) -> None:
        self._credentials = dict(credentials)
        self._netrc: netrc.netrc | None = None
        self._netrc_read = False
        self._lock = threading.Lock()

    def _from_netrc(self, host: str) -> Credentials | None:
        with self._lock:
            if not self._netrc_read:
                self._netrc_read = True
                path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
                if path.is_file():
                    try:
                        self._netrc = netrc.netrc(path)
                    except (OSError, netrc.NetrcParseError):
                        self._netrc = None  # pip, too, goes on without an unreadable netrc
        entry = self._netrc.authenticators(host) if self._netrc is not None else None
        return (entry[0], entry[2] or "") if entry is not None else None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = request.url
        found: Credentials | None = None
        if url.username or url.password:  # a caller that kept them in the URL
            found = (url.username, url.password)
        elif "authorization" not in request.headers:
            host = host_key(url.scheme, url.host, url.port)
            found = self._credentials.get(host) or self._from_netrc(url.host)
        if found is None:
            yield request
        else:
            yield from httpx.BasicAuth(*found).auth_flow(request)


class LazyTransport(httpx.BaseTransport):
    """httpx's default transport, made per scheme on first use: a verifying TLS context
    loads the CA certificates (50-90 ms at start-up), which a plain-HTTP index never needs."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._transports: dict[str, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        with self._lock:
            transport = self._transports.get(scheme)
            if transport is None:
                # TLS settings matter only for https; plain http skips loading certificates.
                transport = httpx.HTTPTransport(verify=scheme != "http", limits=self._limits)
                self._transports[scheme] = transport
        return transport.handle_request(request)

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()


def new_client(credentials: Mapping[str, Credentials], timeout: float) -> httpx.Client:
    """One connection pool for every index and file host, following redirects."""
    return httpx.Client(
        auth=HostAuth(credentials),
        follow_redirects=True,
        timeout=timeout,
        headers={"User-Agent": f"omniwheel/{__version__}"},
        transport=LazyTransport(httpx.Limits(max_connections=16, max_keepalive_connections=16)),
    )
