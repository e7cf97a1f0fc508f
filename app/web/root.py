"""GET /: whoever opens the web port's address in a browser lands on the console."""

from flask import Blueprint, redirect, url_for

bp = Blueprint("root", __name__)


@bp.get("/")
def root():
    """Send the browser to the console, which asks to sign in first."""
    return redirect(url_for("console.home"))
