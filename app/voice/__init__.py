"""Voice calls: the calls themselves, missed-call callbacks, and calls Kalan places."""
