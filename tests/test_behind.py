"""A learner's steps written behind: queued with the session, written to SQL by the clock."""

import dataclasses
import json
import logging
from datetime import timedelta

from sqlalchemy import select

from app.infra import keyring, sessions
from app.infra.models import Certificate, Contact, Message, ModuleProgress, QuizAnswer, utcnow
from app.people import erasure
from app.training import behind

from .conftest import AGENT, Dial, phone_key
from .helpers import write_behind
from .test_training import answer_all, at_the_quiz, choose, course, open_module, read_lessons


def stream(app) -> list[dict]:
    """Return the entries waiting in the stream, as their fields."""
    entries = app.extensions["redis"].xrange(behind.key(app.config["REDIS_PREFIX"]))
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


def replay(app, entries: list[dict]) -> None:
    """Queue entries again, as a consumer that died after its commit leaves them."""
    for command in behind.commands(app.config["REDIS_PREFIX"], entries):
        app.extensions["redis"].execute_command(*command)


def training_rows(app) -> dict:
    """Return everything the training keeps in SQL, comparable as a whole."""
    with app.extensions["db"]() as db:
        return {
            "progress": sorted((r.contact_id, r.module, r.status, r.position, r.attempt,
                                r.score, r.best_score, r.updated_at)
                               for r in db.scalars(select(ModuleProgress))),
            "answers": sorted((a.contact_id, a.question, a.attempt, a.choice, a.correct)
                              for a in db.scalars(select(QuizAnswer))),
            "certificates": db.scalars(select(Certificate.code)).all(),
            "messages": sorted(db.scalars(select(Message.key)).all()),
        }  # fmt: skip


def place(app, phone=AGENT) -> tuple[str, str] | None:
    """Return the module's status and position as SQL has them now, without writing first."""
    with app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == phone)).one()
        row = db.scalars(select(ModuleProgress).where(ModuleProgress.contact_id == contact.id))
        return next(((r.status, r.position) for r in row), None)


def cached_profile(app, phone=AGENT) -> dict:
    return json.loads(app.extensions["redis"].get(phone_key(app, "profile", phone)))


def pass_all_but_the_first(app, phone=AGENT) -> None:
    """Record every module but the first as passed, as if done on earlier days."""
    earlier = utcnow() - timedelta(days=30)
    with app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == phone)).one()
        for module in course(app).modules[1:]:
            db.add(ModuleProgress(contact_id=contact.id, module=module.id, status="passed",
                                  position="", attempt=1, score=len(module.quiz),
                                  best_score=len(module.quiz), started_at=earlier,
                                  updated_at=earlier, finished_at=earlier))  # fmt: skip
        db.commit()


def test_lesson_and_answer_hops_queue_their_steps_and_the_writer_keeps_them(app, client, agent):
    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)  # the first lesson: the module's row, at once
    read_lessons(caller, module)  # lessons 2 to 6, then the quiz
    answer_all(caller, app, module, count=2)
    queued = stream(app)
    assert [(e["position"], e.get("question")) for e in queued] == [
        *((f"l{n}", None) for n in range(2, module.lessons + 1)),
        ("q", None),
        ("q", module.quiz[0].id),
        ("q", module.quiz[1].id),
    ]
    assert place(app) == ("started", "l1")  # nothing written in the hops themselves
    assert len(cached_profile(app)[behind.FIELD]) == len(queued)
    assert write_behind(app) == len(queued)
    assert place(app) == ("started", "q") and stream(app) == []
    assert len(training_rows(app)["answers"]) == 2


def test_replaying_the_stream_writes_nothing_twice(app, client, agent):
    """Every step of a module that ends in a certificate, written, then queued and written
    again (a consumer killed between its commit and its acknowledgement): nothing changes."""
    pass_all_but_the_first(app)
    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    read_lessons(caller, module)
    assert "Module réussi" in answer_all(caller, app, module)
    queued = stream(app)
    # Lessons 3 to 6 (lesson 2 opened the module's row), the quiz, its answers.
    assert len(queued) == module.lessons - 2 + 1 + len(module.quiz)
    write_behind(app)
    written = training_rows(app)
    assert len(written["certificates"]) == 1 and len(written["answers"]) == len(module.quiz)
    replay(app, queued)
    replay(app, queued[::-1])  # and out of order: an older step never moves a row back
    assert write_behind(app) == 2 * len(queued)
    assert training_rows(app) == written


def score_after(app, client, agent, meanwhile) -> None:
    """Answer module 1's quiz but its last question, run meanwhile(), then answer the last:
    every answer is kept and counts in the score."""
    caller, module = at_the_quiz(app, client, agent)
    answer_all(caller, app, module, count=len(module.quiz) - 1)
    meanwhile()
    answer_all(caller, app, module, count=1)  # the last answer, then the score
    rows = training_rows(app)
    total = len(module.quiz)
    assert len(rows["answers"]) == total
    assert [r[2:7] for r in rows["progress"]] == [("passed", "", 1, total, total)]


def test_a_module_end_writes_the_steps_first_and_scores_them(app, client, agent):
    """The full path (the score, the module SMS) needs every answer in SQL: the hop writes
    the steps its cached profile holds before scoring, whatever the writer did."""
    redis, name = app.extensions["redis"], behind.key(app.config["REDIS_PREFIX"])
    score_after(app, client, agent, lambda: redis.delete(name))  # never written
    assert cached_profile(app)[behind.FIELD] == []


def test_a_forgotten_profile_keeps_its_steps_for_the_score(app, client, agent):
    """A cached profile dropped (a recall answered by SMS, a console edit) while its steps
    wait in the stream: the next hop writes them before it reads SQL, and scores them all."""

    def forget():
        app.extensions["sessions"].forget_profile(agent)
        assert place(app) == ("started", "l1")  # the writer has not run

    score_after(app, client, agent, forget)


def test_a_forgotten_profile_keeps_only_its_steps(app, client, agent):
    """What else it held is read afresh; without steps waiting, nothing is left of it."""
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    caller("1", "1")  # lessons 2 and 3, written behind
    redis, key = app.extensions["redis"], phone_key(app, "profile", agent)
    held = cached_profile(app)[behind.FIELD]
    assert len(held) == 2
    app.extensions["sessions"].forget_profile(agent)
    assert cached_profile(app) == {behind.FIELD: held}
    assert redis.ttl(key) > sessions.PROFILE_TTL_S - 60  # as long as the profile had left
    caller("1")  # lesson 4: the first hop of a fresh profile writes the three
    assert place(app) == ("started", "l3") and len(cached_profile(app)[behind.FIELD]) == 1
    for nothing_waits in ({**cached_profile(app), behind.FIELD: []}, b"\x80not json"):
        redis.set(key, nothing_waits if isinstance(nothing_waits, bytes) else
                  json.dumps(nothing_waits))  # fmt: skip
        app.extensions["sessions"].forget_profile(agent)
        assert redis.get(key) is None


def test_a_new_day_writes_the_last_days_steps_before_reading_them(app, client, agent):
    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    lesson_4 = caller("1", "1", "1")
    redis, key = app.extensions["redis"], phone_key(app, "profile", agent)
    redis.delete(behind.key(app.config["REDIS_PREFIX"]))  # not written by the writer
    yesterday = {**cached_profile(app), "seen": "2000-01-01"}
    redis.set(key, json.dumps(yesterday))
    caller.drop()
    caller()
    assert place(app) == ("started", "l4")  # written by the day's first hop
    assert cached_profile(app)["training"][module.id]["position"] == "l4"
    caller("2")  # Recommencer: the main menu
    assert caller("1", "1") == lesson_4  # Formation, Continuer


def test_steps_are_ordered_by_the_learner_not_by_the_nodes_clocks(app, client, agent):
    """Lesson 2 answered by a node whose clock is an hour ahead, lessons 3 and 4 by one on
    time: written in order, then again in reverse, the row ends on lesson 4."""
    services = app.extensions["conversation"]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    ahead = utcnow() + timedelta(hours=1)
    app.extensions["conversation"] = dataclasses.replace(services, clock=lambda: ahead)
    caller("1")  # lesson 2
    app.extensions["conversation"] = services
    caller("1", "1")  # lessons 3 and 4
    queued = stream(app)
    assert [e["position"] for e in queued] == ["l2", "l3", "l4"]
    assert write_behind(app) == 3
    assert place(app) == ("started", "l4")
    replay(app, queued[::-1])
    assert write_behind(app) == 3
    assert place(app) == ("started", "l4")


def test_a_step_from_a_profile_read_before_a_module_end_does_not_undo_it(app, client, agent):
    """Another session of the phone (a call while USSD was open) saves the profile it read
    before the module was scored: its answer, written behind, leaves the pass be."""
    caller, module = at_the_quiz(app, client, agent)
    answer_all(caller, app, module, count=len(module.quiz) - 1)
    stale = cached_profile(app)
    assert "Module réussi" in answer_all(caller, app, module, count=1)
    write_behind(app)
    app.extensions["redis"].set(phone_key(app, "profile", agent), json.dumps(stale))
    caller.drop()
    caller()
    assert "quiz est en cours" in open_module(caller)  # as the stale profile has it
    caller("1")  # its last question again
    caller(choose(app, caller, True))
    assert [e["position"] for e in stream(app)] == ["q"]
    write_behind(app)
    assert place(app) == ("passed", "")


def test_steps_and_profiles_of_the_release_before_still_count(app, client, agent):
    """An entry queued without a step count is ordered by its time, as then; a standing
    cached without one takes the full path, which reads the count."""
    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    caller("1")  # lesson 2
    (entry,) = stream(app)
    write_behind(app)
    old = {name: value for name, value in entry.items() if name != "step"}
    later, earlier = (utcnow() + timedelta(minutes=m) for m in (1, -1))
    replay(app, [{**old, "position": "l5", "at": later.isoformat()},
                 {**old, "position": "l1", "at": earlier.isoformat()}])  # fmt: skip
    write_behind(app)
    assert place(app) == ("started", "l5")
    profile = cached_profile(app)
    del profile["training"][module.id]["step"]
    app.extensions["redis"].set(phone_key(app, "profile", agent), json.dumps(profile))
    caller("1")  # lesson 3 on the screen: written in its hop
    assert place(app) == ("started", "l3") and stream(app) == []
    assert cached_profile(app)["training"][module.id]["step"] > int(entry["step"])


def test_a_step_of_a_profile_read_before_a_full_path_hop_leaves_its_move_be(app, client, agent):
    """The full path counts its step as well: a session that read the profile before it,
    its next step written behind, does not move the row back."""
    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    caller("1")  # lesson 2, written behind
    write_behind(app)
    stale = cached_profile(app)
    profile = json.loads(json.dumps(stale))
    del profile["training"][module.id]["step"]  # cached by the release before: the full path
    app.extensions["redis"].set(phone_key(app, "profile", agent), json.dumps(profile))
    caller("1")  # lesson 3, written in its hop
    assert place(app) == ("started", "l3") and stream(app) == []
    held = stale["training"][module.id]["step"]
    replay(app, [behind.place(stale["id"], module.id, held + 1, "l2", "started", utcnow())])
    write_behind(app)
    assert place(app) == ("started", "l3")


def test_a_profile_full_of_steps_writes_them_with_the_next(app, client, agent):
    """Past CAP steps, the next one takes the full path: the cached profile stays small."""
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    caller("1")  # lesson 2, written behind
    redis, key = app.extensions["redis"], phone_key(app, "profile", agent)
    profile = cached_profile(app)
    (step,) = profile[behind.FIELD]
    redis.set(key, json.dumps({**profile, behind.FIELD: [step] * behind.CAP}))
    redis.delete(behind.key(app.config["REDIS_PREFIX"]))
    caller("1")  # lesson 3
    assert place(app) == ("started", "l3")
    assert cached_profile(app)[behind.FIELD] == [] and stream(app) == []


def test_an_erased_learners_late_steps_write_nothing(app, client, agent):
    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    read_lessons(caller, module)
    answer_all(caller, app, module, count=2)
    with app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == agent)).one()
        cipher = keyring.fernet(app.config["REPORTER_KEY"])
        erasure.erase(db, contact, cipher, utcnow(), app.config["RECORDINGS_DIR"])
        db.commit()
    assert write_behind(app) == module.lessons + 2
    assert training_rows(app)["answers"] == [] and stream(app) == []


def test_an_unreadable_step_is_dropped_and_the_others_written(app, client, agent, caplog):
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    caller("1")  # lesson 2
    (good,) = stream(app)
    broken = {key: value for key, value in good.items() if key != "at"}
    replay(app, [broken, {**good, "position": "l3", "at": "yesterday"}])
    with caplog.at_level(logging.ERROR):
        assert write_behind(app) == 3
    assert place(app) == ("started", "l2") and stream(app) == []
    assert sum("unreadable" in r.getMessage() for r in caplog.records) == 2


def test_a_dead_consumers_steps_are_taken_over_once_idle(app, client, agent):
    """Entries a consumer read and never acknowledged stay with it for CLAIM_IDLE_MS (it
    may only be slow); then another consumer writes them."""
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    caller("1", "1")  # lessons 2 and 3
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    assert write_behind(app) == 2  # the group exists from here on
    caller("1")  # lesson 4
    name = behind.key(prefix)
    redis.xreadgroup(behind.GROUP, "dead", {name: ">"})  # read, then the consumer died
    engine = app.extensions["engine"]
    assert behind.drain(redis, prefix, engine, "alive") == 0  # not idle long enough yet
    assert place(app) == ("started", "l3")
    assert behind.drain(redis, prefix, engine, "alive", idle_ms=0) == 1
    assert place(app) == ("started", "l4") and stream(app) == []
    assert redis.xpending(name, behind.GROUP)["pending"] == 0
    assert behind.forget_consumers(redis, prefix, "alive", idle_ms=0) == 2  # "dead", "tests"
    assert [c["name"] for c in redis.xinfo_consumers(name, behind.GROUP)] == [b"alive"]
