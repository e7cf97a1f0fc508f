"""The edges: one thin adapter per protocol (USSD and SMS callbacks, health, errors, console)."""
