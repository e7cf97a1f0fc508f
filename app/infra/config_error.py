"""The one error configuration raises: a line an operator can act on."""


class ConfigError(Exception):
    """The configuration cannot start the service; the message says why in one line."""
