"""Voice calls' audio: recorded prompts on disk, their coverage, and placeholder builds."""
