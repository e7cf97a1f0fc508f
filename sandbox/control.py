"""The sandbox's own API for tests: what it carried, and which faults it injects."""

from flask import Blueprint, current_app, jsonify, request

from sandbox.faults import FaultError, Faults
from sandbox.messaging import get_injector, get_store

bp = Blueprint("control", __name__, url_prefix="/sandbox")


def phone_arg(name: str) -> str | None:
    """Read a phone number from the query string, undoing an unescaped "+"."""
    value = request.args.get(name)
    if value is None:
        return None
    # An unescaped "+" in a query string arrives as a space.
    if value.startswith(" "):
        value = "+" + value[1:]
    return "".join(value.split())


@bp.get("/messages")
def messages():
    """List the messages Kalan sent to a phone (?to=), or to every phone."""
    return jsonify(get_store().sent(phone_arg("to")))


@bp.delete("/messages")
def clear_messages():
    """Forget every message carried."""
    get_store().clear()
    return "", 204


@bp.get("/faults")
def faults():
    """Show the faults in force."""
    return jsonify(get_injector().faults.as_dict())


@bp.post("/faults")
def set_faults():
    """Replace the faults in force with those of the JSON body."""
    try:
        new = Faults.parse(request.get_json(silent=True))
    except FaultError as exc:
        return jsonify(error="bad_faults", detail=str(exc)), 400
    get_injector().replace(new)
    return jsonify(new.as_dict())


@bp.delete("/faults")
def reset_faults():
    """Go back to the faults the sandbox started with."""
    get_injector().replace(current_app.extensions["sms_start_faults"])
    return jsonify(get_injector().faults.as_dict())
