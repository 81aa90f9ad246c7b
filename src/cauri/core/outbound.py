"""The SSRF guard of every outbound call whose URL an organisation chose (webhooks, batch callbacks)."""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

from cauri.core.config import OutboundTargets, Settings


async def refused_target(url: str, settings: Settings) -> str | None:
    """Why ``url`` must not be called, or None when it may.

    In production (``public``), the host is resolved and refused when any of its addresses is private,
    loopback, link-local or reserved: an organisation must not make us call our own network. ``none`` refuses
    everything before any DNS lookup, so a fuzzed URL reaches nobody.
    """
    targets = settings.effective_outbound_targets
    if targets is OutboundTargets.NONE:
        return "refused: outbound calls are disabled (CAURI_OUTBOUND_TARGETS=none)"
    if targets is OutboundTargets.ANY:
        return None
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return "cannot resolve host"
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            return "refused: private address"
    return None
