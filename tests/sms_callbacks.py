"""How each SMS provider posts its callbacks to Kalan, for the tests of what they share:
Africa's Talking's forms, Orange's and Infobip's JSON, and what each comes to."""

from dataclasses import dataclass

PHONE = "+22376000011"
# Our numbers as the app knows them: a reply comes from the one written to, if it is ours.
OURS = {"AT_SHORTCODE": "36000", "ORANGE_SENDER": "+22344000000"}


def at_receipt(message_id: str, outcome: str, phone: str = PHONE) -> tuple[str, dict]:
    """Africa's Talking's delivery report of an outcome (delivered, failed, waiting)."""
    status = {"delivered": "Success", "failed": "Failed", "waiting": "Buffered"}[outcome]
    reason = "DeliveryFailure" if outcome == "failed" else ""
    form = {"id": message_id, "status": status, "phoneNumber": phone, "failureReason": reason}
    return "/sms/delivery", {"data": form}


def orange_receipt(message_id: str, outcome: str, phone: str = PHONE) -> tuple[str, dict]:
    """Orange's deliveryInfoNotification of an outcome; message_id is its callbackData."""
    status = {"delivered": "DeliveredToTerminal", "failed": "DeliveryImpossible",
              "waiting": "MessageWaiting"}[outcome]  # fmt: skip
    info = {"address": f"tel:{phone}", "deliveryStatus": status}
    body = {"deliveryInfoNotification": {"callbackData": message_id, "deliveryInfo": info}}
    return "/sms/delivery/orange", {"json": body}


def infobip_report(message_id: str, group: str, phone: str = PHONE, **fields) -> dict:
    """One delivery report as Infobip posts it to the notifyUrl."""
    status = {"groupId": 3, "groupName": group, "id": 5, "name": f"{group}_SOMETHING"}
    entry = {"bulkId": "b1", "messageId": message_id, "to": phone.removeprefix("+"),
             "sentAt": "2026-12-01T10:00:00.000+0000", "status": status, **fields}  # fmt: skip
    return {"results": [entry]}


def infobip_receipt(message_id: str, outcome: str, phone: str = PHONE) -> tuple[str, dict]:
    """Infobip's delivery report of an outcome, with its error object."""
    group = {"delivered": "DELIVERED", "failed": "UNDELIVERABLE", "waiting": "PENDING"}[outcome]
    error = {"id": 1, "name": "EC_ABSENT_SUBSCRIBER"} if outcome == "failed" else {
        "id": 0, "name": "NO_ERROR"}  # fmt: skip
    price = {"pricePerMessage": 25, "currency": "XOF"}  # one SMS: a part, as the sandbox bills
    report = infobip_report(message_id, group, phone, error=error, price=price, smsCount=1)
    return "/sms/delivery/infobip", {"json": report}


def at_sms(text: str, message_id: str, phone: str = PHONE) -> tuple[str, dict]:
    """An SMS to our short code, as Africa's Talking forwards it."""
    form = {"date": "2026-12-01 10:00:00", "from": phone, "id": message_id, "linkId": "abc",
            "text": text, "to": "36000", "networkCode": "61002"}  # fmt: skip
    return "/sms/inbound", {"data": form}


def orange_sms(text: str, message_id: str, phone: str = PHONE) -> tuple[str, dict]:
    """An SMS to our Orange number, as Orange notifies it."""
    message = {
        "dateTime": "2026-12-01T10:00:00Z",
        "destinationAddress": "tel:+22344000000",
        "messageId": message_id,
        "message": text,
        "senderAddress": f"tel:{phone}",
        "resourceURL": f"https://api.orange.com/smsmessaging/v1/inbound/{message_id}",
    }
    body = {"inboundSMSMessageNotification": {"callbackData": "", "inboundSMSMessage": message}}
    return "/sms/inbound/orange", {"json": body}


def infobip_sms(text: str, message_id: str, phone: str = PHONE) -> tuple[str, dict]:
    """An SMS to our Infobip number, as Infobip forwards it."""
    entry = {"messageId": message_id, "from": phone.removeprefix("+"), "to": "22344000000",
             "text": text, "cleanText": text, "receivedAt": "2026-12-01T10:00:00.000+0000",
             "smsCount": 1}  # fmt: skip
    body = {"results": [entry], "messageCount": 1, "pendingMessageCount": 0}
    return "/sms/inbound/infobip", {"json": body}


@dataclass(frozen=True)
class Provider:
    """How one provider reports a delivery and passes an SMS on, and what that comes to."""

    receipt: object
    sms: object
    number: str  # the number a person writes to, as the provider names it
    # outcome: (the row's status, delivery_status, reason)
    moves: dict


PROVIDERS = {
    "africastalking": Provider(at_receipt, at_sms, "36000", {
        "delivered": ("delivered", "Success", None),
        "failed": ("failed", "Failed", "Failed: DeliveryFailure"),
        "waiting": ("sent", "Buffered", None)}),
    "orange": Provider(orange_receipt, orange_sms, "+22344000000", {
        "delivered": ("delivered", "Success", None),
        "failed": ("failed", "Failed", "Failed: DeliveryImpossible"),
        "waiting": ("sent", "Buffered", None)}),
    "infobip": Provider(infobip_receipt, infobip_sms, "22344000000", {
        "delivered": ("delivered", "Success", None),
        "failed": ("failed", "Failed", "Failed: EC_ABSENT_SUBSCRIBER"),
        "waiting": ("sent", "Submitted", None)}),
}  # fmt: skip
JSON_PROVIDERS = ("orange", "infobip")


def post(client, request: tuple[str, dict], token: str | None = None):
    """Post a callback built above, with the webhook token if given."""
    path, body = request
    return client.post(path, query_string={"token": token} if token else None, **body)
