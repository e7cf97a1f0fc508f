"""Console inbox: SMS texted to the service for a person to read; answer one or set it aside."""

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from app.infra.models import utcnow
from app.messaging import inbox as box
from app.people import users
from app.web.console.auth import requires
from app.web.console.blueprint import bp
from app.web.console.directory import page_number
from app.web.console.scope import inside
from app.web.db import get_db

MAX_ID = 2**31  # beyond a database integer: no such message
TEXT_MAX = 2000  # read from the form at most; the answer's limit is its parts


@bp.get("/inbox", endpoint="inbox")
@requires()
def inbox_list():
    """List the messages waiting for a supervisor, or those handled, newest first."""
    handled = request.args.get("handled") == "1"
    rows, total, page = box.listed(get_db(), handled, inside(), page_number())
    return render_template("console/inbox.html", rows=rows, total=total, handled=handled,
                           page=page, pages=max(1, -(-total // box.PAGE)))  # fmt: skip


def _row(message_id: int) -> tuple:
    """Return (message, contact, answer) for a message this user may see, or 404."""
    found = box.find(get_db(), message_id, inside()) if message_id < MAX_ID else None
    if found is None:
        abort(404)
    return found


def _render(row: tuple, status: int = 200, problem: str | None = None, text: str = ""):
    message, contact, answer = row
    return render_template(
        "console/inbox_message.html", message=message, contact=contact, answer=answer,
        can_act=g.user.role != "viewer", problem=problem, text=text, max_parts=box.MAX_PARTS,
    ), status  # fmt: skip


@bp.get("/inbox/<int:message_id>")
@requires()
def inbox_message(message_id: int):
    """Show one message, who sent it, and its answer with its delivery status, or the form."""
    return _render(_row(message_id))


@bp.post("/inbox/<int:message_id>/answer")
@requires("admin", "supervisor")
def inbox_answer(message_id: int):
    """Answer a message by SMS, through the outbox; the message is then handled."""
    row = _row(message_id)
    text, db = request.form.get("text", "")[:TEXT_MAX], get_db()
    try:
        box.answer(db, current_app.config, row[0], text, g.user.email, utcnow())
    except box.AnswerRefused as refused:
        db.rollback()
        return _render(_row(message_id), 400, f"console.inbox.refused.{refused}", text)
    users.audit(db, g.user.email, "inbox.answer", f"inbound:{message_id}", utcnow())
    db.commit()
    current_app.extensions["workers"].kick()
    flash("console.inbox.answered", "ok")
    return redirect(url_for("console.inbox_message", message_id=message_id))


@bp.post("/inbox/<int:message_id>/handled")
@requires("admin", "supervisor")
def inbox_set_aside(message_id: int):
    """Mark a message handled without answering it (it needed no answer, or got a call)."""
    message, db = _row(message_id)[0], get_db()
    box.set_aside(message, g.user.email, utcnow())
    users.audit(db, g.user.email, "inbox.handled", f"inbound:{message_id}", utcnow())
    db.commit()
    flash("console.inbox.set_aside", "ok")
    return redirect(url_for("console.inbox"))
