"""Console content preview: every screen as a phone shows it, and every SMS as it is sent."""

from flask import current_app, render_template, request

from app import content
from app.infra.segments import estimate, prepare
from app.messaging import outbox
from app.web.console.auth import requires
from app.web.console.blueprint import bp
from flows.engine import Route
from flows.gsm import is_gsm7


def _group(node: str) -> str:
    return node.split(".", 1)[0]


@bp.get("/content")
@requires()
def content_preview():
    """Show one journey's screens (or the SMS texts) with length and encoding warnings."""
    app = current_app
    catalog, flow = app.extensions["catalog"], app.extensions["flow"]
    limit, code = app.config["USSD_MAX_CHARS"], app.config["USSD_CODE"]
    # Routes have no screen: a group of routes only would show nothing.
    groups = sorted({_group(node) for node, kind in flow.items() if not isinstance(kind, Route)})
    chosen = request.args.get("group", "menu")
    screens, seen = [], set()
    if chosen in groups:
        for node, reply in content.previews(catalog, flow, limit, code):
            if _group(node) != chosen or (node, reply) in seen:
                continue
            seen.add((node, reply))
            screens.append({"node": node, "reply": reply, "length": len(reply),
                            "over": len(reply) > limit, "cut": "..." in reply,
                            "gsm7": is_gsm7(reply)})  # fmt: skip
    sms = []
    if chosen == "sms":
        price = outbox.part_cost(app.config)
        # Filled as sent, at their longest: a template's own length says little of its parts.
        for key, filled in content.sms_previews(catalog, app.config):
            text = prepare(filled, app.config["SMS_ASCII_FOLD"])
            guess = estimate(text, price)
            sms.append({"key": key, "text": text, "length": len(text), "parts": guess.parts,
                        "encoding": guess.encoding})  # fmt: skip
    return render_template(
        "console/content.html", groups=[*groups, "sms"], chosen=chosen, screens=screens,
        sms=sms, limit=limit, problems=content.oversized(catalog, limit, code),
    )  # fmt: skip
