"""The paced crowd: people calling Kalan at once, each reading between hops; latency by kind."""

# One asyncio event loop plays every caller, each hop on a connection of its own (gunicorn's
# sync workers close it after each answer). A hop's latency runs from just before the connect
# to the reply's last byte: what a caller waits for, the queue before a worker included.
# Threads played them until issue 19: 64 Python threads of one process took turns at the GIL
# (5 ms switch interval), and a hop's time included its thread's wait for a turn and
# requests' own work: against the server's timestamps of the same hops, 2.8 to 4.3 ms at
# the median (0.5 ms here), and a p99 of 18 to 38 ms on hops the server answered in under
# 5 ms (10 to 17 ms here). The loop's own lag (how late it wakes from a reader's pause) is
# measured alongside, so that a client stall would show rather than hide in the p99.

import asyncio
import random
import time
import uuid
from urllib.parse import urlencode, urlsplit

from common import TOKEN, verdict
from journeys import phone, texts

TARGET_P99_MS = 25  # paced callers, every kind of hop


def paced(base: str, journeys: dict, people: int, seconds: int, run: int, think_ms: int,
          ramp_s: float) -> dict:  # fmt: skip
    """Play journeys from people callers at once, each reading for a while between hops."""
    return asyncio.run(_crowd(base, journeys, people, seconds, run, think_ms, ramp_s))


async def _crowd(base: str, journeys: dict, people: int, seconds: int, run: int,
                 think_ms: int, ramp_s: float) -> dict:  # fmt: skip
    """The crowd, on the running loop: its latencies by kind and the loop's own lag."""
    url = urlsplit(base)
    latencies, ramp, lags, bad = [], [], [], [0]
    loop = asyncio.get_running_loop()
    started_all = loop.time() + ramp_s  # the crowd is whole: hops count from then on
    stop = started_all + seconds
    names = list(journeys)

    async def read(pause_s: float) -> None:
        """Pause as a reader does; note how late the loop woke up."""
        due = loop.time() + pause_s
        await asyncio.sleep(pause_s)
        lags.append((loop.time() - due) * 1e6)

    async def hop(form: dict) -> tuple[float, bytes]:
        """Send one hop on a new connection; return its latency in µs and the raw reply."""
        body = urlencode(form).encode()
        # HTTP/1.0: the answer is never chunked and ends when the worker closes.
        request = (f"POST /ussd?token={TOKEN} HTTP/1.0\r\nHost: {url.netloc}\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        try:
            writer.write(request)
            reply = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
        return (time.perf_counter() - started) * 1e6, reply

    async def person(k: int) -> None:
        rng, cycle = random.Random(k), 0
        # People do not all dial in the same second, nor walk a journey in step: dials
        # spread over 1 s put some 40 callers on their module's first lesson (its SQL
        # path) within a second or so, a burst no crowd of 64 makes in its steady state.
        await read(rng.uniform(0, ramp_s))
        while loop.time() < stop:
            caller = phone(run, k % 2, k // 2 + cycle * (people // 2 + 1))
            for session in journeys[names[(k + cycle) % len(names)]]:
                session_id = uuid.uuid4().hex
                for (_, kind), text in zip(session, texts(session), strict=True):
                    form = {"sessionId": session_id, "serviceCode": "*123#",
                            "phoneNumber": caller, "text": text,
                            "networkCode": "99999"}  # fmt: skip
                    sent = loop.time()
                    took, reply = await hop(form)
                    (latencies if sent >= started_all else ramp).append(
                        (took, kind, loop.time() - started_all))  # fmt: skip
                    head, _, screen = reply.partition(b"\r\n\r\n")
                    bad[0] += b" 200 " not in head.split(b"\r\n")[0] or screen[:4] not in (
                        b"CON ", b"END ")  # fmt: skip
                    if loop.time() >= stop:
                        return
                    await read(rng.uniform(think_ms / 2000, think_ms * 3 / 2000))
            cycle += 1

    await asyncio.gather(*(person(k) for k in range(people)))
    figures = percentiles([took for took, _, _ in latencies])
    figures.update(rps=len(latencies) / (loop.time() - started_all), bad_answers=bad[0])
    # Where the tail is: by kind of hop, and the slowest hops with when they came.
    kinds = sorted({kind for _, kind, _ in latencies})
    figures["kinds"] = {k: percentiles([t for t, kind, _ in latencies if kind == k]) for k in kinds}
    figures["slowest"] = [{"us": t, "kind": k, "at_s": round(at, 2)}
                          for t, k, at in sorted(latencies, reverse=True)[:10]]  # fmt: skip
    figures["client_lag"] = percentiles(lags)
    figures["ramp"] = {"seconds": ramp_s, **percentiles([took for took, _, _ in ramp])}
    return figures


def percentiles(latencies: list[float]) -> dict:
    """Return the count, p50, p99 and maximum of latencies in microseconds."""
    ordered = sorted(latencies)
    return {"requests": len(ordered), "p50_us": ordered[len(ordered) // 2],
            "p99_us": ordered[int(len(ordered) * 0.99)], "max_us": ordered[-1]}  # fmt: skip


def show_paced(figures: dict, seconds: int) -> None:
    """Print the paced crowd's latencies by kind of hop against the p99 target."""
    lag = figures["client_lag"]
    print(
        f"\nkalan, 64 paced callers for {seconds} s ({figures['rps']:.0f} hops/s, "
        f"{figures['bad_answers']} bad answers): latency by kind of hop"
        f"\n(counted once every caller has dialled, over {figures['ramp']['seconds']:.0f} s; "
        f"one asyncio client, its own lag p99 {lag['p99_us'] / 1000:.1f} ms, "
        f"max {lag['max_us'] / 1000:.1f} ms)"
    )
    print(
        f"{'hop':<10}{'count':>7}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}  p99 < {TARGET_P99_MS} ms"
    )
    for kind, f in [*figures["kinds"].items(), ("all", figures)]:
        p99 = f["p99_us"] / 1000
        print(f"{kind:<10}{f['requests']:>7}{f['p50_us'] / 1000:>8.1f}{p99:>8.1f}"
              f"{f['max_us'] / 1000:>8.1f}  {verdict(p99 < TARGET_P99_MS)}")  # fmt: skip
