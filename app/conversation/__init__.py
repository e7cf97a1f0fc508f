"""The channel-neutral conversation: load and bind a session, fetch needs, step, apply, save."""
