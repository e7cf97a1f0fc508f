"""How a hop's text is read: cumulative or latest-only gateways, retries, a masked PIN."""

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


def stored_text(text: str, new_input, pin: bool, masks: list, mode: str) -> tuple[str, list]:
    """Return the text to keep for the next hop, with a PIN just typed masked out."""
    pin = pin and bool(new_input)
    if mode == LATEST:  # each hop's text is that hop's input alone: no span to carry
        return ("#" * len(text) if pin else text), []
    text = mask(text, masks)
    if pin:
        start = len(text) - len(new_input)
        masks = [*masks, [start, len(text)]]
        text = mask(text, masks)
    return text, masks
