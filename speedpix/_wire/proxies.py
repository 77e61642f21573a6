"""Which transport each URL goes through: one transport class, direct and through proxies.

httpx reads the environment's proxies only when it makes its own transports; given
``transport=``, it ignores them. So the SDK's clients are made with ``transport=`` (the
direct route) and ``mounts=`` (the proxy routes), both public parameters of
``httpx.Client`` and ``httpx.AsyncClient``, built here from the environment as httpx
builds them (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY`` through
:func:`urllib.request.getproxies`) and from the caller's ``httpx_args`` (``proxy``,
``mounts``, ``trust_env``, ``transport``, ``verify``, ``cert``, ``limits``, ``http1``,
``http2``). Every route, the direct one included, is the same transport class, made by
the ``make`` function the sync or the async client passes in.
"""

from __future__ import annotations

import ipaddress
import ssl
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

# httpx's own defaults, for a client made without them.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


@dataclass(frozen=True)
class TransportOptions:
    """What every transport of one client shares, whatever its route."""

    ssl_context: ssl.SSLContext
    limits: httpx.Limits
    http1: bool = True
    http2: bool = False


def _is_ip(host: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(host).version == version
    except ValueError:
        return False


def environment_proxies() -> dict[str, str | None]:
    """URL patterns to proxy URLs (``None``: no proxy) from the environment, as httpx
    reads them: ``NO_PROXY=*`` means none at all; a ``NO_PROXY`` host is matched with
    its subdomains (``.example.com``: the subdomains only)."""
    found = urllib.request.getproxies()
    routes: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        url = found.get(scheme)
        if url:
            routes[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for host in (host.strip() for host in found.get("no", "").split(",")):
        if host == "*":
            return {}
        if not host:
            continue
        if "://" in host:
            routes[host] = None
        elif _is_ip(host, 4) or host.lower() == "localhost":
            routes[f"all://{host}"] = None
        elif _is_ip(host, 6):
            routes[f"all://[{host}]"] = None
        else:
            routes[f"all://*{host}"] = None
    return routes


def proxy_map(proxy: httpx.Proxy | httpx.URL | str | None, *, from_environment: bool) -> dict[str, httpx.Proxy | None]:
    """URL patterns to proxies (``None``: direct): the caller's ``proxy`` for every URL
    if given, else the environment's if allowed."""
    if proxy is not None:
        return {"all://": proxy if isinstance(proxy, httpx.Proxy) else httpx.Proxy(proxy)}
    if not from_environment:
        return {}
    return {pattern: None if url is None else httpx.Proxy(url) for pattern, url in environment_proxies().items()}


def ssl_context(verify: ssl.SSLContext | str | bool, cert: Any, trust_env: bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext) and cert is None:
        return verify
    return httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)


def client_args(kwargs: Mapping[str, Any], make: Callable[[TransportOptions, httpx.Proxy | None], T]) -> dict[str, Any]:
    """``httpx.Client``/``httpx.AsyncClient`` arguments for ``kwargs`` (the same
    arguments), with the transport arguments replaced by ``transport=`` and ``mounts=``
    of transports made by ``make(options, proxy)`` (``proxy`` None: direct)."""
    args = dict(kwargs)
    trust_env: bool = args.get("trust_env", True)
    options = TransportOptions(
        ssl_context=ssl_context(args.pop("verify", True), args.pop("cert", None), trust_env),
        limits=args.pop("limits", DEFAULT_LIMITS),
        http1=args.pop("http1", True),
        http2=args.pop("http2", False),
    )
    proxy = args.pop("proxy", None)
    user_mounts: Mapping[str, Any] | None = args.pop("mounts", None)
    transport = args.pop("transport", None)
    # As httpx: a caller's own transport is taken as it is, without the environment's proxies.
    routes = proxy_map(proxy, from_environment=trust_env and transport is None)
    args["transport"] = make(options, None) if transport is None else transport
    mounts: dict[str, Any] = {pattern: None if via is None else make(options, via) for pattern, via in routes.items()}
    mounts.update(user_mounts or {})
    args["mounts"] = mounts
    return args
