"""Kalan: USSD/SMS training and child-labour reporting for field agents in Mali."""

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from rq import Queue
from sqlalchemy.orm import sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

import flows
from app import content
from app.conversation.services import Services
from app.infra import db, logs, redis_client, sessions, sms_gateways
from app.infra.config import ConfigError, from_env, validate
from app.infra.metrics import Metrics
from app.infra.metrics import claim as claim_metrics_folder
from app.infra.models import utcnow
from app.infra.read_replica import ReadSessions
from app.infra.voice_gateway import AfricasTalkingVoice
from app.messaging.circuit import Circuit
from app.messaging.gauges import Gauges
from app.messaging.notify import QUEUES, Workers
from app.messaging.routing import Routing
from app.messaging.send_stats import SendStats
from app.training import behind
from app.voice.audio import Library
from app.web import audio, console, errors, health, metrics, root, sms, sms_json, ussd, voice
from app.web import db as web_db
from app.web.callbacks import MAX_BODY
from app.web.gunicorn_conf import HIDE_TOKEN
from app.web.query_string import Utf8Query
from app.web.request_id import RequestId
from app.web.ussd_wsgi import UssdEdge


def create_app(test_config: dict | None = None, environ: Mapping | None = None) -> Flask:
    """Create and configure an instance of the Kalan web app.

    Settings come from the environment (environ, else the process's own);
    test_config overrides them. Nothing connects here: clients open their
    connections on first use.
    """
    app = Flask(__name__)
    try:
        config = from_env(environ)
        config.update(test_config or {})
        app.config.from_mapping(validate(config))
        # prometheus_client's own variable: it picks its storage from it when first imported.
        multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if multiprocess_dir:
            claim_metrics_folder(multiprocess_dir)
        catalog, warnings = content.load(Path(app.config["CONTENT_DIR"]))
    except (ConfigError, content.ContentError) as exc:
        # One clear line, no traceback: this is an operator's mistake.
        problems = str(exc).splitlines() or [""]
        more = f" (and {len(problems) - 1} more: run `kalan content check`)" if problems[1:] else ""
        sys.stderr.write(f"kalan: cannot start: {problems[0]}{more}\n")
        raise SystemExit(3) from None
    if not app.debug and not app.testing:
        # Before anything logs: Flask would give its own logger a handler of its own.
        logs.setup(logs.choose(app.config["LOG_FORMAT"], app.config["APP_ENV"]))
        logging.getLogger("alembic").setLevel(logging.WARNING)
    # `flask run` logs each request's URL: a callback's carries the webhook token.
    logging.getLogger("werkzeug").addFilter(HIDE_TOKEN)
    # One byte over the limit: a body cut at the limit is then seen as too long.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY + 1
    # The console's session cookie: never readable by scripts, never sent
    # cross-site, and only over HTTPS in production.
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["APP_ENV"] == "production",
        SESSION_COOKIE_NAME="kalan_console",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
    )
    if app.config["PROXY_HOPS"]:
        # Behind a router the client's address is in X-Forwarded-For: the sign-in
        # limit per address must count each client, not the router.
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.extensions["catalog"] = catalog
    app.extensions["flow"] = flows.build(catalog.course, app.config["ORG_CODES"])
    for warning in warnings:
        app.logger.warning("content: %s", warning)
    engine = db.make_engine(app.config["DATABASE_URL"])
    app.extensions["engine"] = engine
    app.extensions["db"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["metrics"] = Metrics(multiprocess_dir)
    # The dashboard's counts go to a replica when there is one, away from the webhooks' writes,
    # and to the primary while the replica does not answer.
    read_url = app.config["DATABASE_READ_URL"]
    app.extensions["read_engine"] = db.make_engine(read_url) if read_url else engine
    app.extensions["read_db"] = (
        ReadSessions(
            sessionmaker(app.extensions["read_engine"], expire_on_commit=False),
            app.extensions["db"],
            app.extensions["metrics"].read_fallback,
        )
        if read_url
        else app.extensions["db"]
    )
    web_db.init_app(app)
    redis = redis_client.connect(app.config)
    app.extensions["redis"] = redis
    app.extensions["sessions"] = sessions.SessionStore(
        redis,
        app.config["REDIS_PREFIX"],
        app.config["SESSION_TTL_S"],
        app.config["RESUME_TTL_S"],
        app.config["TZ"],
    )
    # Queue names carry the key prefix, so apps sharing a Redis never share work.
    app.extensions["queue"] = Queue(
        app.config["REDIS_PREFIX"] + "default", connection=app.extensions["redis"]
    )
    app.extensions["workers"] = Workers(
        app.extensions["queue"], app.extensions["redis"], app.config["REDIS_PREFIX"]
    )
    # Built here, not through the SDKs' module globals; each connects only to send.
    app.extensions["gateways"] = sms_gateways.build(app.config, redis)
    circuit = Circuit(
        redis,
        app.config["REDIS_PREFIX"],
        window_s=app.config["SMS_CIRCUIT_WINDOW_S"],
        failures_min=app.config["SMS_CIRCUIT_FAILURES"],
        open_s=app.config["SMS_CIRCUIT_OPEN_S"],
    )
    app.extensions["routing"] = Routing(
        app.extensions["gateways"], app.config["SMS_ROUTES"], app.config["SMS_PORTED"], circuit
    )
    app.extensions["send_stats"] = SendStats(redis, app.config["REDIS_PREFIX"])
    queues = {name: Queue(app.config["REDIS_PREFIX"] + name, connection=redis) for name in QUEUES}
    app.extensions["metrics"].watch(
        Gauges(
            app.extensions["read_db"], redis, {name: q.key for name, q in queues.items()},
            circuit, tuple(app.extensions["gateways"]), app.extensions["send_stats"],
            behind.key(app.config["REDIS_PREFIX"]), app.config["REDIS_PREFIX"] + "metrics:gauges",
        )
    )  # fmt: skip
    app.extensions["voice_gateway"] = AfricasTalkingVoice(
        app.config["AT_USERNAME"], app.config["AT_API_KEY"], base_url=app.config["AT_API_BASE_URL"]
    )
    # The conversation's dependencies, handed over once: it never reads the app.
    app.extensions["conversation"] = Services(
        config=app.config,
        catalog=catalog,
        flow=app.extensions["flow"],
        sessions=app.extensions["sessions"],
        redis=app.extensions["redis"],
        engine=engine,
        open_db=app.extensions["db"],
        workers=app.extensions["workers"],
        clock=utcnow,
        metrics=app.extensions["metrics"],
    )
    # Read from disk on first use; a build while the app runs shows within seconds.
    app.extensions["audio"] = Library(Path(app.config["AUDIO_DIR"]))
    errors.init_app(app)
    app.register_blueprint(ussd.bp)
    app.register_blueprint(sms.bp)
    app.register_blueprint(sms_json.bp)
    app.register_blueprint(voice.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(root.bp)
    app.register_blueprint(audio.bp)
    # A gateway's hop skips Flask's request machinery (and ProxyFix, which
    # only the console's sign-in limits read); every other request goes on as before.
    app.wsgi_app = UssdEdge(app, app.wsgi_app)
    # Outside it: a gateway's hop has a request id too, on its log lines and its jobs.
    app.wsgi_app = RequestId(Utf8Query(app.wsgi_app))
    return app
