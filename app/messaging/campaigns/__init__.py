"""Campaigns: an audience streamed into the outbox, with progress and brakes."""
