"""The supervisor console under /console/: server-rendered pages in French."""

from flask import Blueprint, current_app, request

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")
MAX_FILE = 5 * 1024 * 1024  # a contact CSV, at most
UPLOADS = ("console.contacts_import",)


@bp.before_request
def _room_for_uploads():
    """Let an upload form carry its file; the webhooks keep their 8 KB limit.

    Registered before any other hook here: the CSRF check reads the form.
    """
    if request.endpoint in UPLOADS:
        request.max_content_length = MAX_FILE + 64 * 1024


@bp.app_template_global("t")
def text(key: str, **params) -> str:
    """Return console copy from the content files, in French."""
    return current_app.extensions["catalog"].get(key, **params)


@bp.app_template_global("label")
def label(key: str, fallback: str) -> str:
    """Return console copy if the content has it, else fallback (for names built at run time)."""
    catalog = current_app.extensions["catalog"]
    return catalog.get(key) if catalog.has(key) else fallback


@bp.app_template_global("simulator_url")
def simulator_url() -> str | None:
    """In development, the sandbox's phone simulator (where the SMS go); else None."""
    config = current_app.config
    if config["APP_ENV"] == "development" and config["AT_API_BASE_URL"]:
        return config["AT_API_BASE_URL"].rstrip("/") + "/"
    return None


from . import agents, auth, campaigns, cases, contacts, dashboard, preview  # noqa: E402,F401  (the views register themselves on bp)
