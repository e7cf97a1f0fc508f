"""How the sandbox posts to Kalan: URLs with the token, and form posts that never raise."""

from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from flask import current_app


@dataclass(frozen=True)
class Delivery:
    """What came of one post: Kalan's HTTP status, or why there was none."""

    status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Tell whether Kalan took it: AT settles for nothing but 200."""
        return self.status == 200

    @property
    def outcome(self) -> int | str:
        """Return the HTTP status, or the error when no answer came."""
        return self.status if self.status is not None else self.error


def kalan_url(path: str) -> str:
    """Return the URL of a Kalan callback, carrying the webhook token if set."""
    base = current_app.config["KALAN_URL"].rstrip("/")
    token = current_app.config["WEBHOOK_TOKEN"]
    query = "?" + urlencode({"token": token}) if token else ""
    return f"{base}{path}{query}"


def post_form(http: requests.Session, url: str, form: list | dict, timeout: float) -> Delivery:
    """Post form-encoded fields (a dict: as JSON), turning every failure into a Delivery."""
    # AT posts forms; Infobip posts its delivery reports as JSON.
    body = {"json": form} if isinstance(form, dict) else {"data": form}
    try:
        response = http.post(url, timeout=timeout, **body)
    except requests.Timeout:
        return Delivery(error="Request timed out")
    except requests.ConnectionError as exc:
        return Delivery(error="Connection refused" if refused(exc) else "Connection failed")
    except requests.RequestException as exc:
        return Delivery(error=f"Request failed: {type(exc).__name__}")
    response.close()
    return Delivery(status=response.status_code)


def refused(exc: BaseException | None) -> bool:
    """Tell whether a connection error means nothing listens at the URL."""
    # requests wraps the socket error several layers deep.
    while exc is not None:
        if isinstance(exc, ConnectionRefusedError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
