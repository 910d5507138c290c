"""Is an address this machine's loopback? (Who may be reached, and who may reach us.)"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str | None) -> bool:
    return is_loopback_host(urlparse(url).hostname) if url else False
