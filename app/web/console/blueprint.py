"""The console's blueprint: its template helpers, upload room and security headers."""

import os
import re
import secrets

from flask import Blueprint, current_app, g, request
from jinja2 import FileSystemLoader

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


def plural(n) -> str:
    """Return French's plural category of n: "one" up to 1 (0 and 1,5 included), else "other"."""
    return "one" if abs(n) < 2 else "other"


@bp.app_template_global("count")
def count(key: str, number, **params) -> str:
    """Return the copy key.one or key.other that suits number, $n filled with it unless given."""
    params.setdefault("n", number)
    return text(f"{key}.{plural(number)}", **params)


@bp.app_template_global("label")
def label(key: str, fallback: str) -> str:
    """Return console copy if the content has it, else fallback (for names built at run time)."""
    catalog = current_app.extensions["catalog"]
    return catalog.get(key) if catalog.has(key) else fallback


@bp.app_template_global("spelt")
def spelt(key: str, **params) -> str:
    """Return phone copy (report.*, desk.*) as the console shows it.

    Phones read GSM-7 ("Garcons", "Boeufs"); a page spells it in full under
    console.<key> where the two differ.
    """
    catalog = current_app.extensions["catalog"]
    return catalog.get(f"console.{key}" if catalog.has(f"console.{key}") else key, **params)


@bp.app_template_global("simulator_url")
def simulator_url() -> str | None:
    """In development, the sandbox's phone simulator (where the SMS go); else None."""
    config = current_app.config
    if config["APP_ENV"] == "development" and config["AT_API_BASE_URL"]:
        return config["AT_API_BASE_URL"].rstrip("/") + "/"
    return None


_INLINE = re.compile(r"<(script|style)>")


class _NoncedTemplates(FileSystemLoader):
    """The console's templates, each bare <script> and <style> tag given the page's CSP nonce."""

    def get_source(self, environment, template):
        # Done to the template's source as it loads, never to a rendered page:
        # markup that reaches a page through a value is escaped and gets no nonce.
        source, filename, uptodate = super().get_source(environment, template)
        return _INLINE.sub(r'<\1 nonce="{{ csp_nonce() }}">', source), filename, uptodate


bp.jinja_loader = _NoncedTemplates(os.path.join(bp.root_path, bp.template_folder))


@bp.app_template_global("csp_nonce")
def csp_nonce() -> str:
    """Return this response's nonce for inline scripts and styles, making it on first use."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


@bp.after_app_request
def _security_headers(response):
    """Give every console response, error pages included, a strict policy; never cache one."""
    if not (request.path == "/console" or request.path.startswith("/console/")):
        return response  # the webhooks answer gateways, not browsers
    nonce = f" 'nonce-{g.csp_nonce}'" if "csp_nonce" in g else ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'{nonce}; style-src 'self'{nonce}; "
        # Some templates still set style="...": attributes cannot carry a nonce.
        "style-src-attr 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # Cases, exports and reporters' numbers must not stay in a shared browser's cache
    # (a recording says so itself, adding private for the proxies on the way).
    if "no-store" not in response.headers.get("Cache-Control", ""):
        response.headers["Cache-Control"] = "no-store"
    if current_app.config["APP_ENV"] == "production":
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response
