"""Ten thousand random hops over many sessions, gateways and drops, with hostile inputs: a
fuzzer's long run, beside test_fuzz's (tests/test_property.py keeps the hypothesis one)."""

import random
import uuid

from ..helpers import apologies
from ..test_property import SPECIAL, WEIRD, check, hop


def test_ten_thousand_random_hops(app, client, caplog):
    """Replay 10,000 hops over many sessions, gateways and drops, with hostile inputs."""
    apology = apologies(app)
    rng = random.Random(20261129)
    pool = SPECIAL * 4 + WEIRD + ["x" * 5 * 1024, "💥" * 300]
    statuses: dict[int, int] = {}
    hops = sessions = 0
    while hops < 10_000:
        sessions += 1
        session_id = "ATUid_" + uuid.uuid4().hex
        phone = f"+223700002{rng.randrange(100):02d}"
        cumulative = rng.random() < 0.8  # some gateways send only the latest input
        sent: list[str] = []
        texts = [""]
        for _ in range(rng.randrange(1, 30)):
            sent.append(rng.choice(pool))
            texts.append("*".join(sent) if cumulative else sent[-1])
        for text in texts:
            response = hop(client, session_id, phone, text)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            hops += 1
            check(response, text, apology, caplog)
            if response.status_code != 200 or response.get_data(as_text=True).startswith("END"):
                break
            if rng.random() < 0.03:  # the network drops the call
                break
    print(f"\n{hops} hops in {sessions} sessions: {statuses}")
    assert set(statuses) <= {200, 400}
    assert statuses[200] > 5_000
