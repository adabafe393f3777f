"""``RECON_METRICS_ADDR``: where the listener binds (no imports: settings read it)."""

from __future__ import annotations


def parse_addr(addr: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) as a pair.

    Raises:
        ValueError: not ``host:port`` with a port in 0..65535.
    """
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"RECON_METRICS_ADDR must be host:port, not {addr!r}")
    return host.strip("[]"), int(port)
