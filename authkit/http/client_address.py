"""Where a request comes from: the client's IP address, parsed, and the bucket it is
throttled in.

Which proxies may say where a request comes from is the server's decision, made before
the app sees the request: `authkit serve` hands AUTHKIT_TRUSTED_PROXIES to uvicorn's
proxy-headers layer (`forwarded_allow_ips`), and with none named it turns that layer off,
so `scope["client"]` is the TCP peer. What reaches the app is still only a string, taken
from `X-Forwarded-For` when a trusted proxy sent one: it is used here only when it parses
as an IP address, so no header can write an arbitrary string into a log line or a
throttling key.

IPv6 addresses are throttled by their /64: one host usually holds a whole /64 and can
change its address within it at will, so a per-address limit counted per /128 would
count nothing.

Example:

    client_ip(request.scope)         # IPv4Address('203.0.113.9'), or None
    client_ip_text(request.scope)    # "203.0.113.9", or None
    throttle_key(request.scope)      # "203.0.113.9", "2001:db8:1:2::/64", or "unknown"
    parse_networks("10.0.0.5, 192.168.0.0/24")
"""

from __future__ import annotations

import functools
import ipaddress

from starlette.types import Scope

__all__ = [
    "UNKNOWN",
    "IPAddress",
    "IPNetwork",
    "ProxyNetworks",
    "client_ip",
    "client_ip_text",
    "forwarded_allow_ips",
    "parse_networks",
    "throttle_key",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ProxyNetworks = tuple[IPNetwork, ...]

# The throttling key of a request whose address is not known (a Unix socket, say): all
# such requests share one bucket.
UNKNOWN = "unknown"
IPV6_BUCKET_PREFIX = 64


def client_ip(scope: Scope) -> IPAddress | None:
    """The client's address as the server gave it, if that is an IP address; else None.

    An IPv4 address mapped into IPv6 (`::ffff:203.0.113.9`, from a dual-stack socket)
    is the IPv4 address it carries.
    """
    client = scope.get("client")
    if not client:
        return None
    host = client[0]
    return _parsed(host) if isinstance(host, str) else None


# Every request's address is parsed (the access line and the limits use it), and most come
# again and again: a bounded cache keeps ipaddress's parser off the usual request.
@functools.lru_cache(maxsize=4096)
def _parsed(host: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip_text(scope: Scope) -> str | None:
    """`client_ip` as text, the form the logs show (`203.0.113.9`, `2001:db8::1`)."""
    client = scope.get("client")
    if not client or not isinstance(client[0], str):
        return None
    return _text(client[0])


@functools.lru_cache(maxsize=4096)
def _text(host: str) -> str | None:
    address = _parsed(host)
    return None if address is None else str(address)


def throttle_key(scope: Scope) -> str:
    """The client's IPv4 address, its IPv6 /64, or UNKNOWN: what a per-address limit counts."""
    address = client_ip(scope)
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_BUCKET_PREFIX), strict=False))
    return str(address)


def forwarded_allow_ips(proxies: ProxyNetworks) -> list[str]:
    """What to give uvicorn as `forwarded_allow_ips` for `proxies`: each network, and each
    IPv4 one as IPv6 maps it too (`::ffff:10.0.0.5/128`), since on a dual-stack socket
    (`--host ::`) an IPv4 proxy's connection arrives from that mapped address."""
    allowed = [str(network) for network in proxies]
    for network in proxies:
        if isinstance(network, ipaddress.IPv4Network):
            mapped = f"::ffff:{network.network_address}/{96 + network.prefixlen}"
            allowed.append(str(ipaddress.IPv6Network(mapped)))
    return allowed


def parse_networks(value: object) -> ProxyNetworks:
    """Comma-separated IP addresses and CIDR networks (`10.0.0.5,10.1.0.0/16`); ValueError
    naming the first entry that is neither. `*` is refused: name the proxies."""
    if isinstance(value, str):
        words = [word.strip() for word in value.split(",") if word.strip()]
    elif isinstance(value, (tuple, list)):
        words = [str(word).strip() for word in value]
    else:
        raise ValueError("expected comma-separated IP addresses or networks")
    networks: list[IPNetwork] = []
    for word in words:
        if word == "*":
            raise ValueError(
                "`*` would trust every peer's X-Forwarded-For: name the proxies' addresses "
                "or networks (0.0.0.0/0,::/0 if every peer really is a proxy)"
            )
        try:
            networks.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            raise ValueError(
                f"{word!r} is not an IP address or network (such as 10.0.0.5 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)
