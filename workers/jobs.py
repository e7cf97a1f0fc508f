"""RQ jobs: module-level functions with plain arguments, run inside the app context."""

import time

from flask import current_app
from rq import Queue

from app import training
from app.cases import alerts, filing, recordings
from app.infra.models import Campaign, utcnow
from app.messaging import balance, delivery, outbox
from app.messaging.campaigns import expansion, lifecycle
from app.messaging.notify import EXPAND
from app.messaging.sender import Sender
from app.messaging.throttle import Throttle
from app.voice import dialer


def _sender(db, clock=None, sleep=time.sleep) -> Sender:
    """Build the worker's sender; a test may give it a clock (seconds) and a sleep of its own."""
    app = current_app
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]

    def campaign_throttle(campaign_id: int):
        rate = db.get(Campaign, campaign_id).rate
        key = f"{prefix}throttle:campaign:{campaign_id}"
        return Throttle(redis, key, rate, clock=clock) if rate else None

    def throttle(provider: str) -> Throttle:
        return Throttle(redis, f"{prefix}throttle:{provider}", app.config["SMS_RATE"], clock=clock)

    return Sender(
        db=db,
        routing=app.extensions["routing"],
        throttle=throttle,
        config=app.config,
        campaign_throttle=campaign_throttle,
        sleep=sleep,
        stats=app.extensions["send_stats"],
    )


def dispatch() -> dict:
    """Send every due outbox row, then apply the campaign brakes."""
    app = current_app
    app.extensions["redis"].delete(app.extensions["workers"].pending_key)
    with app.extensions["db"]() as db:
        tally = _sender(db).run()
        for campaign_id in tally.campaigns:
            lifecycle.brake(db, campaign_id, app.config["CAMPAIGN_PAUSE_FAILURE_RATE"])
        for campaign_id in lifecycle.finish(db, utcnow()):
            campaign = db.get(Campaign, campaign_id)
            if campaign.status == "scheduled":  # a repeating campaign's next occurrence
                app.extensions["workers"].enqueue(
                    EXPAND, campaign_id, at=campaign.start_at, job_timeout=3600
                )
    return {k: v for k, v in vars(tally).items() if k != "campaigns"}


def expand_campaign(campaign_id: int) -> int:
    """Expand one campaign into the outbox, unless another worker already is."""
    app = current_app
    redis = app.extensions["redis"]
    lock = redis.lock(f"{app.config['REDIS_PREFIX']}expand:{campaign_id}", timeout=120)
    if not lock.acquire(blocking=False):
        return 0
    try:
        with app.extensions["db"]() as db:
            campaign = expansion.expand(
                db, campaign_id, app.config, heartbeat=lambda: lock.extend(120, replace_ttl=True)
            )
            recipients = campaign.recipients if campaign else 0
    finally:
        lock.release()
    dispatch()
    return recipients


def place_calls() -> dict:
    """Place the voice calls due now (callbacks, lessons), each at most once."""
    app = current_app
    with app.extensions["db"]() as db:
        return dialer.send_due(
            db, app.extensions["redis"], app.config, app.extensions["voice_gateway"], utcnow()
        )


def tick() -> dict:
    """Do the periodic work: recover lost rows, start campaigns, send what is due."""
    app = current_app
    now = utcnow()
    with app.extensions["db"]() as db:
        reaped = outbox.reap(db, app.config, now)
        delivery.sweep(db, now, app.config["SMS_UNREACHABLE_AFTER"])
        outbox.forget_receipts(db, now)
        if filing.rekey(db.connection()):  # cases an older release filed during a deploy
            db.commit()
        catalog = app.extensions["catalog"]
        training.remind(db, app.config, catalog, now)
        alerts.remind(db, app.config, catalog, now)
        try:
            training.recall.send_due(db, app.config, catalog, now)
        except Exception:  # a recall is worth less than the cases' alerts and the campaigns
            db.rollback()
            app.logger.exception("recall questions could not be texted")
        starting = expansion.due(db, now)
        lost = recordings.due(db, now)
    for recording_id in lost:  # a fetch whose job Redis lost, or a worker killed mid-way
        recordings.queue(app.extensions["workers"], recording_id)
    try:
        calls = place_calls()
    except Exception:  # a call is worth less than the cases' alerts and the campaigns
        app.logger.exception("voice calls could not be placed")
        calls = {}
    for campaign_id in starting:
        try:
            expand_campaign(campaign_id)
        except Exception:  # one broken campaign must not stop every other message
            app.logger.exception("campaign %s could not be expanded", campaign_id)
            with app.extensions["db"]() as db:
                lifecycle.stop(db, campaign_id, "expansion failed: see the worker log")
    result = dispatch()
    # Last: a provider slow to answer must not hold up what is due to be sent.
    try:
        balance.refresh(app.extensions["redis"], app.config["REDIS_PREFIX"],
                        app.extensions["gateways"], now)  # fmt: skip
    except Exception:  # a balance is shown, never needed to send
        app.logger.exception("the SMS balance could not be read")
    return {"reaped": reaped, "started": starting, "calls": calls, **result}


def fetch_recording(recording_id: int) -> str:
    """Fetch one case recording and keep it, encrypted; after a passing failure, queue the
    next try. Only development may fetch from this machine (the sandbox serves there)."""
    app = current_app
    local = app.config["APP_ENV"] != "production"
    with app.extensions["db"]() as db:
        outcome = recordings.fetch(db, app.config, recording_id, utcnow(), allow_local=local)
    if outcome.retry_at is not None:
        recordings.queue(app.extensions["workers"], recording_id, at=outcome.retry_at)
    if outcome.error:  # never the URL: it may carry a token, and the call it came from
        app.logger.warning("recording %s %s: %s", recording_id, outcome.status, outcome.error)
    return outcome.status


def enqueue_tick(app) -> bool:
    """Queue a tick for the current time slot, unless one is already queued or has run."""
    slot = int(utcnow().timestamp()) // max(1, app.config["SMS_TICK_S"])
    queue: Queue = app.extensions["queue"]
    redis, last = app.extensions["redis"], app.config["REDIS_PREFIX"] + "tick:last"
    tick_id = app.extensions["workers"].job_id(f"tick-{slot}")
    if queue.fetch_job(tick_id) is not None:
        return False
    # One tick waiting is enough: the clock beats on while no worker runs, and ticks that
    # piled up meanwhile would all run, one after another, once a worker is back.
    # Waiting means in the queue itself, not only "queued": a worker takes a job by moving
    # it to the queue's intermediate list, and marks it started after; one killed in
    # between leaves it there, "queued", until RQ's cleanup (ten minutes and more).
    waiting = redis.get(last)
    if waiting and redis.lpos(queue.key, waiting) is not None:
        return False
    queue.enqueue(tick, job_id=tick_id, result_ttl=60, failure_ttl=3600, job_timeout=600)
    redis.set(last, tick_id, ex=86400)
    return True
