"""Fit a screen into one USSD reply: page long text and long option lists."""

import re
from dataclasses import dataclass
from functools import lru_cache

from .gsm import fold

PREFIX = len("CON ")
ELLIPSIS = "..."
# The least text a page with sticky options must still carry, or paging it is no help.
STICKY_MIN = 30


@dataclass(frozen=True)
class Page:
    """One screen's worth of a node: some text and some option lines."""

    text: str
    options: tuple[str, ...]

    def body(self) -> str:
        """Join the page's text and options into lines."""
        return "\n".join(part for part in (self.text, *self.options) if part)


def _cut(text: str, width: int) -> list[str]:
    """Split text at spaces into chunks of at most width characters."""
    chunks, current = [], ""
    for token in re.findall(r"\S+\s*", text):
        while len(token.rstrip()) > width:  # a word longer than a screen
            head = current.rstrip()
            room = width - len(head) - (1 if head else 0)
            if room <= 0:
                chunks.append(head)
                head, room = "", width
            current = (head + " " if head else "") + token[:room]
            token = token[room:]
        if current and len(current + token.rstrip()) > width:
            chunks.append(current.rstrip())
            current = ""
        current += token
    if current.strip() or not chunks:
        chunks.append(current.rstrip())
    return chunks


def paginate(
    text: str, options: list[str], room: int, room_paged: int, sticky: bool = False
) -> list[Page]:
    """Lay text and options out on as few pages as fit.

    room is the space of a lone page; room_paged that of a page which also
    carries the "next page" line. sticky repeats the options on every page,
    with the text paged around them, when they leave it room enough.
    """
    text = text.strip()
    single = Page(text, tuple(options))
    if len(single.body()) <= room:
        return [single]
    width = room_paged - len(Page("", tuple(options)).body()) - 1
    if sticky and options and width >= STICKY_MIN:
        return [Page(chunk, tuple(options)) for chunk in _cut(text, width)]
    pages: list[Page] = []
    chunks = _cut(text, room_paged) if text else [""]
    for chunk in chunks[:-1]:
        pages.append(Page(chunk, ()))
    current_text, current_opts = chunks[-1], []
    for line in options:
        line = line if len(line) <= room_paged else line[: room_paged - len(ELLIPSIS)] + ELLIPSIS
        trial = Page(current_text, (*current_opts, line))
        if len(trial.body()) > room_paged and (current_text or current_opts):
            pages.append(Page(current_text, tuple(current_opts)))
            current_text, current_opts = "", [line]
        else:
            current_opts.append(line)
    pages.append(Page(current_text, tuple(current_opts)))
    return pages


def shorten(text: str, width: int) -> str:
    """Trim text at a word boundary to width characters, marking the cut."""
    if len(text) <= width:
        return text
    if width <= len(ELLIPSIS):
        return ""
    head = text[: width - len(ELLIPSIS)]
    if text[len(head)] != " " and " " in head:  # do not end on half a word
        head = head[: head.rindex(" ")]
    return head.rstrip() + ELLIPSIS


@lru_cache(maxsize=4096)  # screens repeat: a menu's page is built once, not on every hop
def compose(page: Page, nav: str, error: str, limit: int, end: bool = False) -> str:
    """Build the reply body for one page, never longer than limit."""
    room = limit - PREFIX
    # Fold first: folding can lengthen text (œ becomes oe), so measure after it.
    page = Page(fold(page.text), tuple(fold(line) for line in page.options))
    nav, error = fold(nav), fold(error)
    tail = [nav] if nav else []
    lines = [error] if error else []
    body = "\n".join([*lines, page.body(), *tail]) if page.body() else "\n".join([*lines, *tail])
    if len(body) > room:
        # Only an error line can push a laid-out page over: give it the
        # room of the page's text, which the caller has already seen.
        fixed = "\n".join([*lines, *page.options, *tail])
        space = room - len(fixed) - (1 if fixed else 0)
        text = shorten(page.text, space) if space > 0 else ""
        parts = [*lines, text, *page.options, *tail]
        body = "\n".join(part for part in parts if part)
        if len(body) > room:
            body = shorten(body, room)
    return ("END " if end else "CON ") + body
