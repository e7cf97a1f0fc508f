"""People: contacts, console users and the contact import."""
