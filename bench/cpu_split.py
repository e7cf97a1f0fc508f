"""Where a measurement's CPU went, process by process: the server, Redis, PostgreSQL, wrk."""

# Every process of the run shares this machine's cores, so a server's requests per second
# say as much about the others as about it. The CPU each part spent over a measurement,
# divided by the requests answered, splits a request's cost: what the app's own processes
# spent, what Redis and PostgreSQL spent for it, what the load generator spent, and what
# else the machine did meanwhile.

import resource

import psutil


def processes_cpu(matches) -> dict[int, float]:
    """Return the CPU seconds so far of each process whose psutil info matches, by pid."""
    found = {}
    for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        times = process.info["cpu_times"]
        if times is not None and matches(process.info):
            found[process.pid] = times.user + times.system
    return found


def serving_cpu(base: str) -> dict[int, float]:
    """Return the CPU seconds so far of each process serving base (gunicorn and its workers)."""
    # Its --bind, word for word: wrk's command line holds the address in a URL. The workers,
    # forked, carry the master's command line too.
    bind = "127.0.0.1:" + base.rsplit(":", 1)[1]
    return processes_cpu(lambda info: bind in (info["cmdline"] or []))


def named_cpu(*names: str) -> dict[int, float]:
    """Return the CPU seconds so far of each process whose name starts with one of names."""
    return processes_cpu(lambda info: (info["name"] or "").startswith(names))


def snapshot(base: str) -> dict:
    """Return the CPU seconds so far of each part of a run against base, and the machine's.

    Redis and PostgreSQL are every such process on the machine (the embedded server is
    Valkey's): run the bench on a machine of its own.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
    machine = psutil.cpu_times()
    busy = machine.user + machine.nice + machine.system + getattr(machine, "irq", 0)
    busy += getattr(machine, "softirq", 0) + getattr(machine, "steal", 0)
    return {"server": serving_cpu(base), "redis": named_cpu("redis-server", "valkey-server"),
            "postgres": named_cpu("postgres"), "wrk": children.ru_utime + children.ru_stime,
            "machine": busy}  # fmt: skip


def _spent(before, after) -> float:
    """Return the seconds spent between two readings: of one figure, or of processes by pid,
    each counted once (one that started meanwhile counts whole; one that ended is lost, not
    made negative)."""
    if isinstance(after, dict):
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
    return after - before


def per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
    """Return the µs of CPU each part spent per request between two snapshots."""
    spent = {
        part: _spent(before[part], after[part]) for part in ("server", "redis", "postgres", "wrk")
    }
    spent["other"] = max(0.0, after["machine"] - before["machine"] - sum(spent.values()))
    spent["machine"] = after["machine"] - before["machine"]
    return {part: seconds / max(requests, 1) * 1e6 for part, seconds in spent.items()}
