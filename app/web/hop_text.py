"""How a hop's text is read: cumulative or latest-only gateways, retries, a masked PIN."""

from dataclasses import dataclass

# How the gateway sends `text`: not known until the second input shows it.
UNSURE, CUMULATIVE, LATEST = "unsure", "cumulative", "latest"


def derive_input(consumed: str, text: str, mode: str) -> tuple[str | None, str]:
    """Return (the new input, gateway mode) from the text consumed so far and this hop's.

    Africa's Talking resends every input joined by "*"; some gateways send only
    the latest. The mode is learnt from the second input: it either extends
    the first with "*", or it does not. None means this hop repeats an earlier
    one (a retry or a late duplicate) and must change nothing.
    """
    if mode == LATEST:
        return text, LATEST
    if consumed == "":
        return (None, mode) if text == "" else (text, mode)
    if text.startswith(consumed + "*"):
        return text[len(consumed) + 1 :], CUMULATIVE
    if mode == CUMULATIVE and (text in (consumed, "") or consumed.startswith(text + "*")):
        return None, CUMULATIVE
    # The same key pressed twice on a latest-only gateway lands here too.
    return text, LATEST


def mask(text: str, masks: list) -> str:
    """Hide the spans of text that held a secret (a desk PIN), as they were stored."""
    for start, end in masks:
        if end <= len(text):
            text = text[:start] + "#" * (end - start) + text[end:]
    return text


def repeated(session: dict, text: str, masks: list, waited: bool, now: float, window) -> bool:
    """Tell whether a hop is a copy of the one just answered, where its text cannot tell.

    On a cumulative gateway the text itself shows a retry (derive_input). Before
    the gateway's kind is known, or on one that sends the latest input alone, a
    second "1" may be a person's answer or the gateway's copy: it is a copy if
    it waited for the first to be answered, or came within window seconds
    (USSD_RETRY_S): a person reads the screen first, and the network alone
    takes longer than that.
    """
    # No window, no haste: a hop's time is kept to the millisecond, rounded, so the next
    # hop of a quick caller could seem to come before it (a test flaked on it).
    hasty = window > 0 and now - session.get("at", 0) < window
    if session["mode"] == CUMULATIVE or not (waited or hasty):
        return False
    kept = session["text"]
    if kept and set(kept) == {"#"} and len(text) == len(kept):
        return True  # a masked PIN: the same number of digits again
    return mask(text, masks) == kept


def stored_text(
    text: str, new_input, pin: bool, masks: list, mode: str, opening: bool = False
) -> tuple[str, list]:
    """Return the text to keep for the next hop, with a PIN just typed masked out.

    An opening hop's text (a code dialled as *123*6*4821#) is never answered, and
    may hold a PIN: it is kept masked whole.
    """
    if opening and text:
        return "#" * len(text), [[0, len(text)]]
    pin = pin and bool(new_input)
    if mode == LATEST:  # each hop's text is that hop's input alone: no span to carry
        return ("#" * len(text) if pin else text), []
    text = mask(text, masks)
    if pin:
        start = len(text) - len(new_input)
        masks = [*masks, [start, len(text)]]
        text = mask(text, masks)
    return text, masks


@dataclass(frozen=True)
class UssdText:
    """The USSD channel: how a gateway's `text` reads as the hop's input, and screen size."""

    retry_s: float  # USSD_RETRY_S
    limit: int  # USSD_MAX_CHARS
    name = "ussd"

    def read(self, session: dict, raw: str, waited: bool, now: float) -> tuple[str | None, dict]:
        """Return this hop's input and how it was read; None when the hop is a copy."""
        masks = session.get("masks", []) if session["mode"] != LATEST else []
        if repeated(session, raw, masks, waited, now, self.retry_s):
            return None, {}
        new_input, mode = derive_input(session["text"], mask(raw, masks), session["mode"])
        if new_input is None:  # the gateway resent a hop already answered
            return None, {}
        # The input is the end of the raw text: masks only ever cover what came before.
        new_input = raw if mode == LATEST else raw[len(raw) - len(new_input) :]
        return new_input, {"mode": mode, "masks": masks}

    def keep(self, raw: str, new_input, pin: bool, opening: bool, reading: dict) -> dict:
        """Return what the session keeps of this hop's text, to read the next one."""
        mode, masks = reading.get("mode", UNSURE), reading.get("masks", [])
        kept, masks = stored_text(raw, new_input, pin, masks, mode, opening)
        return {"text": kept, "mode": mode, **({"masks": masks} if masks else {})}
