"""Fetch a file from a URL someone else gave us, trusting none of it: address, size and time.

Errors say what went wrong and never the URL: a provider's URL may carry a token, and the
call it came from.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

MAX_URL = 1000  # characters: a provider's media URL is far shorter
REDIRECTS = 3
CONNECT_S, READ_S = 3.05, 10
CHUNK = 64 * 1024
# Worth trying again: the file may not be there yet, or the server is briefly down.
PASSING = frozenset({404, 408, 425, 429, 500, 502, 503, 504})


class Refused(Exception):
    """A download that will not succeed however often it is tried; the message says why."""


class Transient(Exception):
    """A download that failed this time (timeout, lost connection, server busy)."""


@dataclass(frozen=True)
class Download:
    """What a server sent: the body, and its content type as said (lowercase, no parameters)."""

    body: bytes
    content_type: str


def check_url(url) -> str:
    """Return url if it is an http(s) address we may fetch; raise Refused saying why not."""
    if not isinstance(url, str) or not url:
        raise Refused("no URL")
    if len(url) > MAX_URL:
        raise Refused(f"URL longer than {MAX_URL} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise Refused("URL holds spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise Refused("URL is not http or https")
    try:
        parts.port  # noqa: B018  (raises ValueError on a port out of range)
    except ValueError:
        raise Refused("URL has a bad port") from None
    if not parts.hostname:
        raise Refused("URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("URL carries credentials")
    return url


def check_public(url: str) -> None:
    """Refuse a URL whose host is this machine or a private network: no fetching inwards."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Transient("host not found") from None
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not address.is_global:
            raise Refused("URL points at a private, loopback or reserved address")


def fetch(url: str, max_bytes: int, timeout_s: float, allow_local: bool = False) -> Download:
    """Download url: at most max_bytes, within timeout_s, following at most 3 redirects.

    Each address, redirects' included, is checked again; unless allow_local (development,
    where the sandbox serves from this machine), none may be private. Raises Refused or
    Transient.
    """
    deadline = time.monotonic() + timeout_s
    for _ in range(REDIRECTS + 1):
        check_url(url)
        if not allow_local:
            check_public(url)
        try:
            response = requests.get(
                url, stream=True, allow_redirects=False, timeout=(CONNECT_S, READ_S),
                headers={"Accept": "audio/*"},
            )  # fmt: skip
        except requests.Timeout:
            raise Transient("timed out") from None
        except requests.ConnectionError:
            raise Transient("could not connect") from None
        except requests.RequestException as exc:
            raise Refused(f"request refused ({type(exc).__name__})") from None
        with response:
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code in PASSING:
                raise Transient(f"HTTP {response.status_code}")
            if not 200 <= response.status_code < 300:
                raise Refused(f"HTTP {response.status_code}")
            body = _read(response, max_bytes, deadline)
            kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            return Download(body, kind)
    raise Refused(f"more than {REDIRECTS} redirects")


def _read(response: requests.Response, max_bytes: int, deadline: float) -> bytes:
    """Read a body up to max_bytes, before the deadline; raise Refused or Transient."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise Refused(f"larger than {max_bytes} bytes")
    body = bytearray()
    try:
        for chunk in response.iter_content(CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise Refused(f"larger than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise Transient("too slow")
    except requests.RequestException:
        raise Transient("connection lost while reading") from None
    return bytes(body)
