"""WSGI middleware: a query string that is not UTF-8 read as werkzeug reads a bad escape."""

# WSGI hands the query string over as latin-1 text of its bytes. werkzeug decodes those
# bytes as UTF-8 and fails on any other (a 500 on every route), while it reads a bad
# escape such as %FF as U+FFFD. So the bytes that are not UTF-8 are escaped first.

from urllib.parse import quote

# Everything a query string may hold as it came, escapes and separators included.
KEPT = "".join(chr(n) for n in range(0x21, 0x7F))


class Utf8Query:
    """Escape a query string's bytes when they are not UTF-8, before anything reads it."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        if not query.isascii():
            raw = query.encode("latin-1", "replace")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                environ["QUERY_STRING"] = quote(raw, safe=KEPT)
        return self.wsgi_app(environ, start_response)
