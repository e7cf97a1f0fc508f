"""The supervisor console under /console/: server-rendered pages in French."""

from flask import Blueprint, current_app

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")


@bp.app_template_global("t")
def text(key: str, **params) -> str:
    """Return console copy from the content files, in French."""
    return current_app.extensions["catalog"].get(key, **params)


from . import agents, auth, campaigns, cases, dashboard  # noqa: E402,F401  (the views register themselves on bp)
