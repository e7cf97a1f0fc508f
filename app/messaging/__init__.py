"""SMS: the outbox, sending, delivery reports, campaigns, keywords, segments and the send window."""
