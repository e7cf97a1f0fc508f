"""The Orange SMS adapter: OAuth2 client credentials, a shared token, one request per phone."""

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

import requests
from redis.exceptions import RedisError

from app.infra import segments
from app.infra.gateway import (
    FAILED,
    NOT_TRIED,
    RETRY,
    SENT,
    UNKNOWN,
    GatewayError,
    Incoming,
    Report,
    Result,
    failure,
)

DEFAULT_BASE_URL = "https://api.orange.com"
TIMEOUT = (5, 15)  # connect, read: seconds
# A token is dropped this long before Orange says it expires, so no request carries
# one that dies on the way; a short-lived token keeps at least half its life.
EARLY_S = 60
# Renewal holds this lock; it outlives a token request's own timeout, so a crashed
# renewer frees it, and waiting workers give up after as long.
LOCK_MS = (TIMEOUT[0] + TIMEOUT[1] + 1) * 1000
# Orange's gateway timed out on, or lost, a backend that may have taken the message already.
MAYBE_TAKEN = frozenset({502, 504})
# An answer that says the next phone would fare no better (busy, down, units used up):
# the rest wait, unasked.
STOP = MAYBE_TAKEN | {403, 429, 500, 503}
POLL_S = 0.05
# Compare-and-delete: release the lock only if it is still ours.
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


# Orange's delivery statuses (GSMA OneAPI), in the outbox's statuses (app/messaging/delivery.py).
REPORT_STATUSES = {
    "DeliveredToTerminal": "Success",
    "DeliveryImpossible": "Failed",
    "MessageWaiting": "Buffered",
    "DeliveredToNetwork": "Submitted",
    "DeliveryUncertain": "Sent",
    "DeliveryNotificationNotSupported": "Sent",
}


@dataclass(frozen=True)
class Contract:
    """Units left on one Orange SMS contract."""

    country: str
    units: int
    status: str | None = None
    expires: str | None = None


class Orange:
    """Send through Orange's SMS API, one request per recipient, as the API takes one address."""

    name = "orange"

    def __init__(self, redis, prefix: str, client_id: str, client_secret: str, sender: str,
                 sender_name: str = "", base_url: str = "", part_cost: str = "",
                 timeout=TIMEOUT, budget_s: float | None = None) -> None:  # fmt: skip
        self.redis = redis
        self.token_key = f"{prefix}orange:token"
        self.lock_key = f"{prefix}orange:token-lock"
        self.auth = (client_id, client_secret)
        self.sender = sender
        self.sender_name = sender_name or None
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        # Orange's answer carries no price: a message costs its parts at the bundle's price.
        currency, _, amount = part_cost.partition(" ")
        self.price = (currency, Decimal(amount)) if amount else None
        self.timeout = timeout
        # One request per phone: a batch must end well within the outbox's lease, or its
        # rows could be settled (and resent) while it still runs. No request starts past
        # budget_s; the phones left are NOT_TRIED.
        self.budget_s = budget_s
        self.http = requests.Session()

    def send(self, phones: list[str], text: str, sender: str | None = None) -> list[Result]:
        """Send text to each phone in turn; see Gateway.send."""
        sender = sender if sender and valid_phone(sender) else self.sender
        # Counted from the start: waiting for a token spends the same lease.
        deadline = time.monotonic() + self.budget_s if self.budget_s else None
        token = self.token()
        results: list[Result] = []
        for index, phone in enumerate(phones):
            if index and deadline is not None and time.monotonic() > deadline:
                return results + [Result(p, RETRY, status=NOT_TRIED) for p in phones[index:]]
            if not valid_phone(phone):
                results.append(Result(phone, FAILED, status_code=400, status="InvalidPhoneNumber"))
                continue
            try:
                result, token = self._send_one(phone, text, token, sender)
            except GatewayError as exc:
                # The provider is out of reach: the rest wait for the next attempt
                # rather than each spending a timeout.
                outcome = UNKNOWN if exc.unknown else RETRY
                results.append(Result(phone, outcome, status=exc.reason))
                results += [Result(p, RETRY, status=NOT_TRIED) for p in phones[index + 1 :]]
                break
            results.append(self._priced(result, text))
            if result.status_code in STOP:
                return results + [Result(p, RETRY, status=NOT_TRIED) for p in phones[index + 1 :]]
        return results

    def _priced(self, result: Result, text: str) -> Result:
        """Give a taken message its parts and, when the bundle's price is known, its cost."""
        if result.outcome != SENT:
            return result
        parts = segments.parts(text)
        cost = f"{self.price[0]} {self.price[1] * parts:.4f}" if self.price else None
        return result._replace(parts=parts, cost=cost)

    def balance(self) -> list[Contract]:
        """Return the units left on each of the application's SMS contracts."""
        token = self.token()
        response = self._request("GET", "/sms/admin/v1/contracts", token)
        if response.status_code == 401:
            response = self._request("GET", "/sms/admin/v1/contracts", self.token(stale=token))
        if response.status_code != 200:
            raise GatewayError(
                f"provider refused: {response.status_code} {error_text(response)}", False
            )
        try:
            return [Contract(str(c["country"]), int(c["availableUnits"]), c.get("status"),
                             c.get("expirationDate")) for c in response.json()]  # fmt: skip
        except (ValueError, KeyError, TypeError):
            raise GatewayError("unexpected answer from the provider", False) from None

    def token(self, stale: str | None = None) -> str:
        """Return a valid access token, renewing it at most once across all workers.

        stale is a token the provider just refused: a cached token equal to it
        does not count as valid.
        """
        try:
            return self._token(stale)
        except RedisError as exc:
            # Nothing was sent on this token yet: the send can simply wait.
            raise GatewayError(f"token cache unavailable: {type(exc).__name__}", False) from exc

    def _token(self, stale: str | None) -> str:
        deadline = time.monotonic() + LOCK_MS / 1000
        while True:
            cached = self._cached(stale)
            if cached:
                return cached
            mine = uuid.uuid4().hex
            if self.redis.set(self.lock_key, mine, nx=True, px=LOCK_MS):
                try:
                    # Another worker may have renewed between our read and our lock.
                    return self._cached(stale) or self._renew()
                finally:
                    self.redis.eval(RELEASE, 1, self.lock_key, mine)
            if time.monotonic() > deadline:
                raise GatewayError("token renewal by another worker is taking too long", False)
            time.sleep(POLL_S)

    def _cached(self, stale: str | None) -> str | None:
        raw = self.redis.get(self.token_key)
        token = raw.decode() if isinstance(raw, bytes) else raw
        return None if not token or token == stale else token

    def _renew(self) -> str:
        """Ask Orange for a token and share it until shortly before it expires."""
        try:
            response = self.http.post(
                self.base_url + "/oauth/v3/token",
                auth=self.auth,
                data={"grant_type": "client_credentials"},
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            # No SMS rides on a token request: whatever happened, asking again is safe.
            raise GatewayError(failure(exc).reason, False) from exc
        if response.status_code != 200:
            raise GatewayError(
                f"token refused: {response.status_code} {error_text(response)}", False
            )
        try:
            body = response.json()
            token, lifetime = str(body["access_token"]), int(body["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise GatewayError("unexpected token answer from the provider", False) from None
        keep = lifetime - min(EARLY_S, lifetime // 2)
        if keep > 0:
            self.redis.set(self.token_key, token, ex=keep)
        return token

    def _send_one(self, phone: str, text: str, token: str, sender: str) -> tuple[Result, str]:
        """Send to one phone, renewing the token once if Orange refuses it."""
        sender = "tel:" + sender
        request = {"address": "tel:" + phone, "senderAddress": sender,
                   "outboundSMSTextMessage": {"message": text}}  # fmt: skip
        if self.sender_name:
            request["senderName"] = self.sender_name
        path = f"/smsmessaging/v1/outbound/{quote(sender, safe='')}/requests"
        body = {"outboundSMSMessageRequest": request}
        response = self._request("POST", path, token, body)
        if response.status_code == 401:
            # Expired or revoked early: one renewal, shared, and one more try.
            token = self.token(stale=token)
            response = self._request("POST", path, token, body)
        return classify(phone, response), token

    def _request(self, method: str, path: str, token: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            return self.http.request(method, self.base_url + path, json=body, headers=headers,
                                     timeout=self.timeout)  # fmt: skip
        except requests.RequestException as exc:
            raise failure(exc) from exc


def classify(phone: str, response) -> Result:
    """Turn Orange's answer to one send into that phone's Result."""
    code = response.status_code
    if code == 201:
        try:
            url = response.json()["outboundSMSMessageRequest"]["resourceURL"]
        except (ValueError, KeyError, TypeError):
            # Orange said it created the request: it is taken, only its id is missing.
            return Result(phone, SENT, status_code=code, status="NoResourceURL")
        return Result(phone, SENT, provider_id=url.rstrip("/").rsplit("/", 1)[-1],
                      status_code=code, status="Created")  # fmt: skip
    status = error_id(response)
    if code == 400:
        # SVC0002/SVC0004 and the like: the address or the text is invalid, and will be
        # invalid again next time.
        return Result(phone, FAILED, status_code=code, status=status)
    if code == 403:
        # POL policy errors: no contract for this country, contract expired, units used up.
        # They hold for the whole account and an operator can lift them (a new bundle),
        # so the outbox's bounded retries give the message its chance; the phone is
        # not to blame.
        return Result(phone, RETRY, status_code=code, status=status)
    if code in MAYBE_TAKEN:
        # The API gateway's own error or timeout: the platform behind may have taken it.
        # Campaigns are then not sent again (at most once); alerts are (at least once).
        return Result(phone, UNKNOWN, status_code=code, status=status)
    # 429 and 503 are passing; a 401 even with a fresh token means wrong credentials,
    # which an operator fixes; anything else was answered, so not taken: retrying is
    # bounded, losing is not.
    return Result(phone, RETRY, status_code=code, status=status)


def error_id(response) -> str:
    """Return Orange's error id (SVC0002, POL0001, code 42...) or the HTTP status."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP{response.status_code}"
    if isinstance(body, dict):
        for exception in (body.get("requestError") or {}).values():
            if isinstance(exception, dict) and exception.get("messageId"):
                return str(exception["messageId"])
        if body.get("code") is not None:
            return f"code {body['code']}"
    return f"HTTP{response.status_code}"


def error_text(response) -> str:
    """Return the start of an error answer, for the log."""
    return response.text[:200]


def valid_phone(phone: str) -> bool:
    """Tell whether a phone looks like +<6 to 15 digits>."""
    digits = phone[1:]
    return phone.startswith("+") and digits.isdigit() and 6 <= len(digits) <= 15


def receipt(body) -> Report:
    """Read a deliveryInfoNotification; raise ValueError if it is not one.

    Its callbackData names the message: the id Orange gave in the send's resourceURL.
    """
    note = body.get("deliveryInfoNotification") if isinstance(body, dict) else None
    info = note.get("deliveryInfo") if isinstance(note, dict) else None
    if not isinstance(info, dict):
        raise ValueError("expected a deliveryInfoNotification with its deliveryInfo")
    message_id, status = note.get("callbackData"), info.get("deliveryStatus")
    if not isinstance(message_id, str) or not message_id.strip():
        raise ValueError("callbackData must name the message")
    if not isinstance(status, str) or status not in REPORT_STATUSES:  # a list is unhashable
        raise ValueError(f"unknown deliveryStatus: {str(status)[:40]!r}")
    failed = status if REPORT_STATUSES[status] == "Failed" else None
    return Report(message_id, REPORT_STATUSES[status], failed, _address(info.get("address")))


def inbound(body) -> Incoming:
    """Read an inboundSMSMessageNotification; raise ValueError if it is not one."""
    note = body.get("inboundSMSMessageNotification") if isinstance(body, dict) else None
    message = note.get("inboundSMSMessage") if isinstance(note, dict) else None
    if not isinstance(message, dict):
        raise ValueError("expected an inboundSMSMessageNotification with its inboundSMSMessage")
    names = ("messageId", "senderAddress", "destinationAddress", "message")
    fields = [message.get(name) for name in names]
    if not all(isinstance(value, str) for value in fields) or not fields[0]:
        raise ValueError("messageId, senderAddress, destinationAddress and message are needed")
    date = message.get("dateTime")
    phone = _address(fields[1]) or fields[1]
    to = _address(fields[2]) or fields[2].removeprefix("tel:")
    return Incoming(fields[0], phone, to, fields[3], date if isinstance(date, str) else None)


def _address(value) -> str | None:
    """Return a tel:+223... address as the E.164 number it holds."""
    if isinstance(value, str) and value.startswith("tel:") and valid_phone(value[4:]):
        return value[4:]
    return None
