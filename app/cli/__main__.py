"""`python -m app.cli`: the `kalan` command, for processes started without the script."""

from app.cli import main

main()
