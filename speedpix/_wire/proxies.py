"""The direct route and the proxy routes of a client, each the same transport class: httpx
ignores the environment's proxies once given ``transport=``, so ``mounts=`` are built here."""

from __future__ import annotations

import ipaddress
import ssl
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class TransportOptions:
    """What every transport of one client shares, whatever its route."""

    ssl_context: ssl.SSLContext
    limits: httpx.Limits
    http1: bool
    http2: bool


def environment_proxies() -> dict[str, str | None]:
    """URL patterns to proxy URLs (``None``: direct) from the environment, as httpx reads them."""
    found = urllib.request.getproxies()
    routes: dict[str, str | None] = {
        f"{scheme}://": url if "://" in url else f"http://{url}"
        for scheme in ("http", "https", "all")
        if (url := found.get(scheme))
    }
    for host in (host.strip() for host in found.get("no", "").split(",")):
        if host == "*":
            return {}
        try:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if "://" in host:
            routes[host] = None
        elif ip is not None and ip.version == 6:
            routes[f"all://[{host}]"] = None
        elif ip is not None or host.lower() == "localhost":
            routes[f"all://{host}"] = None
        elif host:
            routes[f"all://*{host}"] = None
    return routes


def client_args(
    kwargs: Mapping[str, Any], make: Callable[[TransportOptions, httpx.Proxy | None], Any]
) -> dict[str, Any]:
    """``kwargs`` (``httpx.Client`` arguments) with the transport arguments replaced by
    ``transport=`` and ``mounts=`` of transports made by ``make(options, proxy)``."""
    args = dict(kwargs)
    trust_env: bool = args.get("trust_env", True)
    verify, cert = args.pop("verify", True), args.pop("cert", None)
    if not isinstance(verify, ssl.SSLContext) or cert is not None:
        verify = httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
    options = TransportOptions(
        ssl_context=verify,
        limits=args.pop("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20)),
        http1=args.pop("http1", True),
        http2=args.pop("http2", False),
    )
    proxy = args.pop("proxy", None)
    user_mounts = args.pop("mounts", None) or {}
    transport = args.pop("transport", None)
    routes: dict[str, Any] = {}
    if proxy is not None:
        routes = {"all://": proxy if isinstance(proxy, httpx.Proxy) else httpx.Proxy(proxy)}
    elif trust_env and transport is None:  # as httpx: a caller's transport goes without the environment's proxies
        routes = {pattern: url and httpx.Proxy(url) for pattern, url in environment_proxies().items()}
    args["transport"] = make(options, None) if transport is None else transport
    args["mounts"] = {pattern: via and make(options, via) for pattern, via in routes.items()} | dict(user_mounts)
    return args
