"""The Infobip SMS adapter: the Gateway interface over its /sms/2/text/advanced API."""

from decimal import Decimal

import requests

from app.infra.gateway import (
    FAILED,
    RETRY,
    SENT,
    UNKNOWN,
    GatewayError,
    Incoming,
    Report,
    Result,
    failure,
)

SEND_PATH = "/sms/2/text/advanced"
TIMEOUT_S = (3.05, 9.05)  # connect, read: as long as the AT SDK waits
# Status groups (infobip.com/docs/essentials/response-status-and-error-codes):
# 0 OK and 1 PENDING mean Infobip took the message; 5 REJECTED means it did not.
_TAKEN = {"OK", "ACCEPTED", "PENDING", "DELIVERED"}
# REJECTED statuses that a later try can get past: the account is topped up, the
# route or Infobip's system comes back, the flood filter cools down. Every other
# rejection (destination, sender, DND, prefix, text) fails the same way each time.
_TRANSIENT_REJECTIONS = {
    "REJECTED_NOT_ENOUGH_CREDITS",
    "REJECTED_PREPAID_PACKAGE_EXPIRED",
    "REJECTED_ROUTE_NOT_AVAILABLE",
    "REJECTED_FLOODING_FILTER",
    "REJECTED_SYSTEM_ERROR",
}
# A delivery report's status group, as the statuses the outbox already applies
# for Africa's Talking (app/messaging/delivery.py).
REPORT_STATUSES = {
    "OK": "Sent",
    "ACCEPTED": "Sent",
    "PENDING": "Submitted",
    "DELIVERED": "Success",
    "UNDELIVERABLE": "Failed",
    "EXPIRED": "Expired",
    "REJECTED": "Rejected",
}


class Infobip:
    """Send one message object per phone, so each gets its own messageId."""

    name = "infobip"

    def __init__(
        self,
        api_key: str,
        base_url: str,
        sender: str = "",
        notify_url: str = "",
        batch_size: int = 100,
        timeout=TIMEOUT_S,
    ):
        self.api_key = api_key
        self.url = base_url.rstrip("/") + SEND_PATH
        self.sender = sender
        self.notify_url = notify_url
        self.batch_size = batch_size
        self.timeout = timeout
        self.http = requests.Session()

    def send(self, phones: list[str], text: str, sender: str | None = None) -> list[Result]:
        """Send in batches of at most batch_size; see Gateway.send."""
        results: list[Result] = []
        for start in range(0, len(phones), self.batch_size):
            batch = phones[start : start + self.batch_size]
            try:
                results += self._send_batch(batch, text, sender or self.sender)
            except GatewayError as exc:
                if not results:
                    raise  # nothing went yet: the request as a whole failed
                # Earlier batches went: keep their ids, and settle this one per phone.
                outcome = UNKNOWN if exc.unknown else RETRY
                results += [Result(p, outcome, status=exc.reason[:64]) for p in batch]
        return results

    def _send_batch(self, phones: list[str], text: str, sender: str) -> list[Result]:
        """Send one request; return one Result per phone or raise GatewayError."""
        body = {"messages": [self._message(phone, text, sender) for phone in phones]}
        headers = {"Authorization": f"App {self.api_key}", "Accept": "application/json"}
        try:
            response = self.http.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise failure(exc) from exc
        if response.status_code != 200:
            # An answer, so Infobip did not take the request: resending is safe. A 401
            # is a key to fix, not a reason to fail the messages for good; 429 and 5xx
            # pass. The outbox retries all three later, a bounded number of times.
            raise GatewayError(f"provider refused: {_refusal(response)}", False)
        try:
            answer = response.json()
        except ValueError:
            raise GatewayError("unreadable answer from the provider", True) from None
        return parse(answer, phones)

    def _message(self, phone: str, text: str, sender: str) -> dict:
        """Describe one message object of the request."""
        message = {"destinations": [{"to": phone.removeprefix("+")}], "text": text}
        if sender:
            message["from"] = sender
        if self.notify_url:
            message["notifyUrl"] = self.notify_url
        return message


def parse(answer, phones: list[str]) -> list[Result]:
    """Turn Infobip's answer into one Result per phone, in the phones' order."""
    try:
        entries = answer["messages"]
        by_number: dict[str, list[dict]] = {}
        for entry in entries:
            by_number.setdefault(str(entry["to"]).removeprefix("+"), []).append(entry)
    except (KeyError, TypeError):
        raise GatewayError("unexpected answer from the provider", True) from None
    results = []
    for phone in phones:
        matches = by_number.get(phone.removeprefix("+"))
        if not matches:
            # A phone the provider did not mention may or may not have been taken.
            results.append(Result(phone, UNKNOWN, status="NotInAnswer"))
            continue
        results.append(_result(phone, matches.pop(0)))
    return results


def classify(status: dict) -> str:
    """Map an Infobip status object of a send answer to an outbox outcome."""
    group, name = status.get("groupName"), status.get("name")
    if group in _TAKEN:
        return SENT
    if group == "REJECTED":
        return RETRY if name in _TRANSIENT_REJECTIONS else FAILED
    if group in ("UNDELIVERABLE", "EXPIRED"):
        return FAILED
    return RETRY  # an unknown group: retrying is bounded, losing is not


def reports(body) -> list[Report]:
    """Read a delivery-report callback's JSON; raise ValueError if it or a result is wrong."""
    return [report(entry) for entry in results(body, "delivery report")]


def report(entry) -> Report:
    """Read one result of a delivery-report callback; raise ValueError if it is not one."""
    if not isinstance(entry, dict):
        raise ValueError("each result must be a JSON object")
    if not isinstance(entry.get("status"), dict):
        raise ValueError("each result needs a status object")
    message_id, group = entry.get("messageId"), entry["status"].get("groupName")
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("each result needs a messageId")
    if not isinstance(group, str) or group not in REPORT_STATUSES:  # a list is unhashable
        raise ValueError(f"unknown status group: {str(group)[:32]!r}")
    error = entry.get("error") if isinstance(entry.get("error"), dict) else {}
    # Infobip sends an error object with id 0 ("NO_ERROR") on success.
    name = error.get("name") if isinstance(error.get("name"), str) else None
    failed = error.get("id") not in (None, 0) and name
    return Report(message_id, REPORT_STATUSES[group], failed or None, _number(entry.get("to")),
                  _cost(entry))  # fmt: skip


def inbound(body) -> list[Incoming]:
    """Read a forwarded inbound SMS callback's JSON; raise ValueError if it or a result is wrong."""
    return [incoming(entry) for entry in results(body, "forwarded SMS")]


def incoming(entry) -> Incoming:
    """Read one forwarded SMS; raise ValueError if it is not one."""
    if not isinstance(entry, dict):
        raise ValueError("each result must be a JSON object")
    fields = [entry.get(name) for name in ("messageId", "from", "to", "text")]
    if not all(isinstance(value, str) for value in fields) or not fields[0]:
        raise ValueError("each result needs messageId, from, to and text as strings")
    received = entry.get("receivedAt")
    return Incoming(fields[0], _number(fields[1]) or fields[1], fields[2], fields[3],
                    received if isinstance(received, str) else None)  # fmt: skip


def results(body, what: str) -> list:
    """Return a callback's list of results, each read on its own (report(), incoming());
    raise ValueError if the body is no such list."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ValueError(f"a {what} must be a JSON object with a list of results")
    return body["results"]


def _number(value) -> str | None:
    """Return Infobip's number (international digits, no +) as E.164."""
    if isinstance(value, str) and value.removeprefix("+").isdigit():
        return "+" + value.removeprefix("+")
    return None


def _cost(entry: dict) -> str | None:
    """Return what a report says the message cost: its price per part times its parts."""
    price = entry.get("price") if isinstance(entry.get("price"), dict) else {}
    amount, currency = price.get("pricePerMessage"), price.get("currency")
    parts = entry.get("smsCount", 1)
    numbers = (int, float)
    if not isinstance(amount, numbers) or isinstance(amount, bool) or not isinstance(parts, int):
        return None
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        return None
    cost = Decimal(str(amount)) * max(1, parts)
    text = f"{currency.upper()} {cost:.4f}"
    # NaN, Infinity or a price past the column's 32 characters is no price at all.
    return text if cost.is_finite() and cost >= 0 and len(text) <= 32 else None


def _result(phone: str, entry: dict) -> Result:
    """Describe one message object of the answer."""
    status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
    outcome = classify(status)
    provider_id = entry.get("messageId") if outcome == SENT else None
    if outcome == SENT and not provider_id:
        return Result(phone, UNKNOWN, status="NoMessageId")
    code = status.get("id")
    return Result(
        phone=phone,
        outcome=outcome,
        provider_id=provider_id,
        status_code=code if isinstance(code, int) else None,
        status=status.get("name") or status.get("groupName"),
    )


def _refusal(response: requests.Response) -> str:
    """Describe a non-200 answer: its status and Infobip's own words, if any."""
    try:
        error = response.json()["requestError"]["serviceException"]
        words = f"{error.get('messageId')}: {error.get('text')}"
    except (ValueError, KeyError, TypeError):
        words = response.text
    return f"HTTP {response.status_code} {words}"[:200]
