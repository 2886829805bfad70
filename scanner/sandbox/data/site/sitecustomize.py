"""Loaded by every Python process in panorama-gate's sandbox (it is first on PYTHONPATH).

Installs an audit hook (Python 3.8+) that reports network attempts (connect, sendto, sendmsg,
name lookups) to the sandbox's init over an abstract unix datagram socket; unix sockets and
loopback addresses are not network. What the hook cannot see (native code, non-Python
programs, Python 3.7) is caught by the network namespace's own "no route" counters, which
init reads. Then the image's own ``sitecustomize`` (if any) is loaded, so nothing changes for
the application.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from typing import Any

_NAME = os.environ.get("PANORAMA_GATE_STATUS", "")
_local = threading.local()
_sock: list[socket.socket] = []

_EVENTS = {
    "socket.connect",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.bind",
}


def _is_local(host: Any) -> bool:
    if host is None or host == "":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    if host in ("localhost", "::1") or host.startswith("127."):
        return True
    return bool(host.endswith(".localhost"))


def _is_ip_literal(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host.split("%", 1)[0])
        except (OSError, ValueError):
            continue
        return True
    return False


def _target(event: str, args: tuple[Any, ...]) -> str | None:
    """The remote end of an event, or ``None`` when the event is not a network attempt."""
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        host = args[0]
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        # Resolving an IP literal asks no server; the connect that follows is counted.
        if _is_local(host) or _is_ip_literal(str(host)):
            return None
        return f"lookup {host}"
    family = getattr(args[0], "family", None)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None  # unix sockets, netlink and the like are not network
    address = args[1] if len(args) > 1 else None
    host = address[0] if isinstance(address, tuple) and address else address
    if event == "socket.bind":
        # Binding a wildcard or external address means listening for the outside world.
        if host in ("", "0.0.0.0", "::") or not _is_local(host):  # noqa: S104
            return f"bind {address!r}"
        return None
    if address is None:
        return f"{event} on an unknown peer"
    if _is_local(host):
        return None
    port = address[1] if isinstance(address, tuple) and len(address) > 1 else ""
    return f"{host}:{port}"


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in _EVENTS or getattr(_local, "busy", False):
        return
    _local.busy = True  # our own sendto below must not be counted
    try:
        target = _target(event, args)
        if target is None:
            return
        if not _sock:
            _sock.append(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
        msg = {"kind": "net", "event": event, "target": target[:200], "pid": os.getpid()}
        _sock[0].sendto(json.dumps(msg).encode(), "\0" + _NAME)
    except OSError as exc:
        sys.stderr.write(f"panorama-gate sandbox: network audit failed: {exc}\n")
    finally:
        _local.busy = False


def _chain() -> None:
    """Load the image's own sitecustomize, which ours shadows."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None or spec.origin == __file__:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


if _NAME and hasattr(sys, "addaudithook"):
    sys.addaudithook(_hook)
_chain()
