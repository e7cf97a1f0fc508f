"""app/web/openapi.yaml: checked against the code, then schemathesis generates requests from it."""

import re
from pathlib import Path

import jsonschema
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings

from app.conversation import events
from app.infra import infobip, orange
from app.web import sms, ussd, voice

from ..sms_callbacks import infobip_receipt, infobip_sms, orange_receipt, orange_sms

SPEC = Path(ussd.__file__).resolve().parent / "openapi.yaml"
# What the code reads, endpoint by endpoint: fields, and the required ones.
CODE = {
    "/ussd": (ussd.HOP_FIELDS, ("sessionId", "serviceCode", "phoneNumber", "text")),
    "/ussd/events": (events.FIELDS, ("sessionId", "status")),
    "/sms/inbound": (sms.INBOUND_FIELDS, ("from", "id", "text")),
    "/sms/delivery": (sms.DELIVERY_FIELDS, ("id", "status")),
    "/sms/optout": (sms.OPTOUT_FIELDS, ("phoneNumber",)),
    "/voice": (voice.FIELDS, voice.REQUIRED),
}


def spec() -> dict:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def test_the_description_names_every_gateway_route_of_the_app(app):
    """Each route outside the console is described, with its methods, and nothing else is.

    / only sends browsers to the console: it is for people, not gateways."""
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())  # <x> is {x} there
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith(("/console", "/static")) and rule.rule != "/"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, item in spec()["paths"].items() for method in item}
    assert described == served


@pytest.mark.parametrize("path", sorted(CODE))
def test_each_form_is_described_as_the_code_reads_it(path):
    fields, required = CODE[path]
    body = spec()["paths"][path]["post"]["requestBody"]["content"]
    form = body["application/x-www-form-urlencoded"]["schema"]
    assert set(form["properties"]) == set(fields)
    assert set(form["required"]) == set(required)


def json_body(path: str) -> dict:
    """Return the schema of an endpoint's JSON body, its references resolved in the spec."""
    pointer = f"#/paths/{path.replace('/', '~1')}/post/requestBody/content/application~1json/schema"
    return {**spec(), "$ref": pointer}


@pytest.mark.parametrize(
    "sent",
    [orange_receipt("or-1", "failed"), orange_sms("AIDE", "m1"),
     infobip_receipt("ib-1", "failed"), infobip_sms("AIDE", "m2")],
    ids=lambda sent: sent[0],
)  # fmt: skip
def test_what_orange_and_infobip_send_is_described(sent):
    path, body = sent
    jsonschema.Draft4Validator(json_body(path)).validate(body["json"])


def test_the_described_statuses_are_those_the_parsers_know():
    receipt = spec()["paths"]["/sms/delivery/orange"]["post"]["requestBody"]["content"]
    info = receipt["application/json"]["schema"]["properties"]["deliveryInfoNotification"]
    status = info["properties"]["deliveryInfo"]["properties"]["deliveryStatus"]
    assert set(status["enum"]) == set(orange.REPORT_STATUSES)
    reports = spec()["paths"]["/sms/delivery/infobip"]["post"]["requestBody"]["content"]
    entry = reports["application/json"]["schema"]["properties"]["results"]["items"]
    assert set(entry["properties"]["status"]["properties"]["groupName"]["enum"]) == set(
        infobip.REPORT_STATUSES
    )


schema = schemathesis.openapi.from_path(SPEC)
# Requests the description allows, only. Its limits are conservative (256 characters where
# the code reads up to 1,024 bytes, which JSON Schema cannot say), so some requests it
# forbids are rightly taken. Requests of any shape are test_fuzz.py's work.
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_app_answers_as_described(live_server, case):
    """No 500, status codes and content types as described, USSD screens as CON or END."""
    case.call_and_validate(base_url=live_server)  # over HTTP, on real Redis and SQL
