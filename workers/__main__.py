"""Entry point: `python -m workers` runs one RQ worker with its scheduler (the periodic tick
comes from `python -m workers.clock`, a process of its own)."""

from app import create_app

from . import run

if __name__ == "__main__":
    run(create_app())
