"""Console sign-in: argon2 passwords, CSRF tokens, a login rate limit, and role checks."""

import functools
import hmac
import secrets

from flask import abort, current_app, g, redirect, render_template, request, session, url_for

from .. import users
from ..db import get_db
from ..models import User, utcnow
from . import bp

LOGIN_TRIES = 5  # failed sign-ins per email, and 4x that per address, per window
LOGIN_WINDOW_S = 15 * 60


def csrf_token() -> str:
    """Return this browser session's CSRF token, creating it on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


bp.add_app_template_global(csrf_token)


@bp.before_request
def _load_user_and_check_csrf():
    """Find who is signed in; refuse any form posted without this session's token."""
    g.user = None
    if "user_id" in session:
        g.user = get_db().get(User, session["user_id"])
    if any("\x00" in v for v in (request.path, *request.args.values())):
        abort(400, "NUL")  # no column stores it, and PostgreSQL refuses it outright
    if request.method == "POST":
        if any("\x00" in v for v in request.form.values()):
            abort(400, "NUL")
        sent = request.form.get("csrf_token", "").encode()
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "").encode()):
            abort(400, "csrf")


def requires(*roles: str):
    """Let a view run only for a signed-in user of one of these roles (any, if none)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if roles and g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _tries(key: str) -> int:
    return int(current_app.extensions["redis"].get(key) or 0)


def _failed(*keys: str) -> None:
    pipe = current_app.extensions["redis"].pipeline()
    for key in keys:
        pipe.incr(key)
        pipe.expire(key, LOGIN_WINDOW_S)
    pipe.execute()


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; sign in with email and password."""
    error = None
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()[:254]
        password = request.form.get("password", "")[:1024]
        prefix = current_app.config["REDIS_PREFIX"]
        by_email, by_address = f"{prefix}login:{email}", f"{prefix}login@{request.remote_addr}"
        if _tries(by_email) >= LOGIN_TRIES or _tries(by_address) >= 4 * LOGIN_TRIES:
            return render_template("console/login.html", error="console.login.locked"), 429
        db = get_db()
        user = users.authenticate(db, email, password, utcnow())
        if user is None:
            _failed(by_email, by_address)
            error = "console.login.wrong"
        else:
            current_app.extensions["redis"].delete(by_email)
            users.audit(db, user.email, "login", None, utcnow())
            db.commit()
            session.clear()  # a fresh session: nothing from before sign-in carries over
            session.permanent = True
            session["user_id"] = user.id
            target = request.args.get("next", "")
            # Only a path of our own: never an open redirect.
            safe = (
                target.startswith("/console/")
                and not target.startswith("//")
                and target.isprintable()  # no CR/LF: a header cannot be split
            )
            return redirect(target if safe else url_for("console.home"))
    return render_template("console/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    """Sign out."""
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/")
@requires()
def home():
    """Open the console on the dashboard."""
    return redirect(url_for("console.dashboard"))
