"""Campaign text: {name}-style placeholders only, filled without str.format, per language."""

import re

PLACEHOLDERS = ("name", "cercle", "region", "commune", "organisation")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")  # {name}: no spec, index or attribute


class CampaignError(Exception):
    """A campaign request that cannot be carried out; the message says why."""


class PlaceholderError(CampaignError):
    """A message with braces that are not one of the PLACEHOLDERS."""


class EmptyMessageError(CampaignError):
    """A message with nothing to send."""


def render(template: str, contact) -> str:
    """Fill {name}, {cercle}… from the contact; unknown or empty ones become blank."""
    values = {key: getattr(contact, key) or "" for key in PLACEHOLDERS}
    # Never str.format on a typed text: {name:x>5000} would pad it to thousands of characters.
    # One pass, so a value that itself reads "{cercle}" is sent as written.
    text = PLACEHOLDER.sub(lambda found: values.get(found[1], ""), template)
    # A blank placeholder leaves no gap: "Bonjour {name}, ..." becomes "Bonjour, ...".
    text = re.sub(r" {2,}", " ", text)
    return re.sub(r" +([,.])", r"\1", text).strip()


def placeholders(template: str) -> tuple[str, ...]:
    """Return the PLACEHOLDERS a template fills, each once, in the order written."""
    return tuple(dict.fromkeys(n for n in PLACEHOLDER.findall(template) if n in PLACEHOLDERS))


def check_messages(messages: dict[str, str]) -> None:
    """Refuse an empty text, or one with braces other than the PLACEHOLDERS, written {name}."""
    for lang, text in messages.items():
        if not text.strip():
            raise EmptyMessageError(f"message ({lang}) is empty: a campaign needs a message")
        known = PLACEHOLDER.sub(lambda found: "" if found[1] in PLACEHOLDERS else found[0], text)
        stray = re.search(r"\{[^{}]{0,30}\}?|\}", known)
        if stray:
            allowed = ", ".join(f"{{{key}}}" for key in PLACEHOLDERS)
            raise PlaceholderError(
                f"message ({lang}): {stray[0]!r} is not a placeholder (placeholders: {allowed})"
            )


def message_for(messages: dict[str, str], lang: str | None) -> str:
    """Pick the contact's language, else French, else the first one given."""
    return messages.get(lang or "fr") or messages.get("fr") or next(iter(messages.values()))
