"""Voice calls: recorded prompts and their coverage, the calls themselves, missed-call
callbacks, and calls Kalan places."""
