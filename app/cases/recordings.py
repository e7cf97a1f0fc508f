"""Voice recordings kept with cases: attached when a report is filed by voice, fetched by a
worker, stored encrypted under RECORDINGS_DIR, played in the console, deleted with the case.

A recording is the reporter's voice, and a reporter may be anonymous. Nothing kept with it
names the caller: no number, times to the hour as the case's, and the provider's URL
forgotten once the file is fetched (or given up on). Each file is encrypted with
REPORTER_KEY, as contactable reporters' numbers are: a copy of the folder plays nothing.
"""

import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.infra import download, keyring
from app.infra.media import Recording
from app.infra.models import Case, hour_of

JOB = "workers.jobs.fetch_recording"  # by name: the app queues it, only a worker imports it
JOB_TIMEOUT_S = 300
MAX_BYTES = 5 * 1024 * 1024  # a minute of telephone WAV (8 kHz, 16 bits) is under 1 MB
FETCH_S = 60  # the whole download, redirects included
LEASE_S = 180  # a fetch holds its recording this long; past it, the tick hands it on
GRACE_S = 60  # a recording due this long ago and still not taken: its job was lost
MAX_ATTEMPTS = 8  # 30 s doubling, at most an hour: the last try about an hour after the first
SUFFIX = ".enc"  # every file is Fernet-encrypted: "<random>.wav.enc"

# A file's format, told by its first bytes, else by the content type the server gave.
TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "webm": "audio/webm"}
SAID = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/vnd.wave": "wav",
        "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/ogg": "ogg",
        "audio/webm": "webm"}  # fmt: skip
# Another audio type is kept as said (a browser may not play it, but the voice is not lost).
AUDIO = re.compile(r"^audio/[a-z0-9][a-z0-9.+-]{0,32}$")


class BadRecording(ValueError):
    """A recording's URL refused at filing; the message says why, never the URL."""


class Unreadable(Exception):
    """A recording that cannot be played: not fetched, its file gone, or no key opens it."""


@dataclass(frozen=True)
class Outcome:
    """What one fetch did: the recording's status now, and when it is tried again if pending.

    "skipped": there was nothing to do (done already, deleted, or held by another fetch).
    """

    status: str
    retry_at: datetime | None = None
    error: str | None = None  # why it failed, or why it is tried again


def attach(db: Session, case: Case, url, now: datetime) -> Recording:
    """Keep a recording to fetch for a case; raise BadRecording if its URL is not one we fetch.

    The caller commits, then queues the fetch (queue()).
    """
    try:
        download.check_url(url)
    except download.Refused as exc:
        raise BadRecording(str(exc)) from None
    recording = Recording(
        case_id=case.id,
        source_url=url,
        # The name is drawn now, so that a fetch run twice writes the same file.
        path=f"{case.id}/{secrets.token_hex(16)}",
        status="pending",
        attempts=0,
        not_before=now,  # exact while pending (the tick's grace); cleared once fetched
        created_at=hour_of(now),
    )
    db.add(recording)
    db.flush()
    return recording


def queue(workers, recording_id: int, at: datetime | None = None) -> None:
    """Queue a fetch of one recording, now or at a given time; may raise RedisError.

    If Redis does not answer, the tick queues it again (due()).
    """
    workers.enqueue(JOB, recording_id, at=at, job_timeout=JOB_TIMEOUT_S)


def fetch(
    db: Session, config: Mapping, recording_id: int, now: datetime, allow_local: bool = False
) -> Outcome:
    """Download a pending recording, check it is audio, and store it encrypted; commit.

    A passing failure (timeout, server down, not there yet) is tried again later with
    backoff, until MAX_ATTEMPTS; anything else fails it at once. Run twice, it does the
    work once. allow_local lets the URL point at this machine (the sandbox, in development).
    config gives RECORDINGS_DIR and REPORTER_KEY.
    """
    recording = _claim(db, recording_id, now)
    if recording is None:
        return Outcome("skipped")
    try:
        got = download.fetch(recording.source_url, MAX_BYTES, FETCH_S, allow_local)
        kind, content_type = audio_kind(got.body, got.content_type)
    except download.Transient as exc:
        return _retry(db, recording, str(exc), now)
    except download.Refused as exc:
        _finish(db, recording, status="failed", error=str(exc)[:200])
        return Outcome("failed", error=str(exc))
    root = Path(config["RECORDINGS_DIR"])
    try:
        name = _store(root, recording.path, kind, got.body, config["REPORTER_KEY"])
    except OSError as exc:  # a full disk, a folder not ours: tried again, and then given up
        return _retry(db, recording, f"could not write the file ({exc.strerror})", now)
    done = _finish(db, recording, status="fetched", path=name, size=len(got.body),
                   content_type=content_type, fetched_at=hour_of(now), error=None)  # fmt: skip
    if not done:  # deleted with its case while it downloaded: the file must not outlive it
        _unlink(root, name)
        return Outcome("skipped")
    return Outcome("fetched")


def sniff(body: bytes) -> str | None:
    """Return the audio format a file's first bytes show (wav, mp3, ogg, webm), or None."""
    if body[:4] == b"RIFF" and body[8:12] == b"WAVE":
        return "wav"
    if body[:3] == b"ID3" or (len(body) > 1 and body[0] == 0xFF and body[1] & 0xE0 == 0xE0):
        return "mp3"  # a tag, or an MPEG frame's sync bits
    if body[:4] == b"OggS":
        return "ogg"
    if body[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    return None


def audio_kind(body: bytes, said: str) -> tuple[str, str]:
    """Return a download's (suffix, content type); raise download.Refused if it is not audio."""
    kind = sniff(body) or SAID.get(said)
    if body and kind:
        return kind, TYPES[kind]
    if body and AUDIO.match(said):
        return "audio", said
    raise download.Refused(f"not audio (content type {said[:40] or 'none'})")


def read(config: Mapping, recording: Recording) -> bytes:
    """Return a fetched recording's audio, decrypted; raise Unreadable if it cannot be."""
    if recording.status != "fetched":
        raise Unreadable("not fetched")
    try:
        token = _inside(Path(config["RECORDINGS_DIR"]), recording.path).read_bytes()
    except OSError:
        raise Unreadable("its file is missing") from None
    try:
        return keyring.fernet(config["REPORTER_KEY"]).decrypt(token)
    except InvalidToken:
        raise Unreadable("no key of REPORTER_KEY opens it") from None


def of_case(db: Session, case: Case) -> list[Recording]:
    """Return a case's recordings, in the order they came."""
    query = select(Recording).where(Recording.case_id == case.id).order_by(Recording.id)
    return list(db.scalars(query))


def find(db: Session, case: Case, recording_id: int) -> Recording | None:
    """Return one recording of this case, or None (another case's is not found either)."""
    query = select(Recording).where(Recording.id == recording_id, Recording.case_id == case.id)
    return db.scalars(query).first()


def due(db: Session, now: datetime, limit: int = 100) -> list[int]:
    """Return pending recordings no fetch took in time: their job was lost (Redis down, a
    worker killed), or a retry is late."""
    late = now - timedelta(seconds=GRACE_S)
    query = (
        select(Recording.id)
        .where(Recording.status == "pending")
        .where(or_(Recording.not_before.is_(None), Recording.not_before <= late))
        .order_by(Recording.id)
        .limit(limit)
    )
    return list(db.scalars(query))


def erase(db: Session, root, case_ids: Iterable[int]) -> int:
    """Delete the recordings of these cases, their files then their rows; return how many.

    Files first: should the caller's commit fail, a row is left that plays nothing, never
    a voice on disk that no row leads to. The caller commits.
    """
    case_ids, root = sorted(set(case_ids)), Path(root)
    if not case_ids:
        return 0
    paths = list(db.scalars(select(Recording.path).where(Recording.case_id.in_(case_ids))))
    for path in paths:
        _unlink(root, path)
    db.execute(delete(Recording).where(Recording.case_id.in_(case_ids)))
    for case_id in case_ids:
        try:
            (root / str(case_id)).rmdir()
        except OSError:
            pass  # not there, or still holding something not ours to judge
    return len(paths)


def rotate(db: Session, root, keys: str | Sequence[str]) -> int:
    """Re-encrypt every fetched recording's file with REPORTER_KEY's first key; return how
    many files were rewritten. Safe to run again; raise Unreadable naming the case if no key
    opens one."""
    root, first, every = Path(root), Fernet(keyring.parse(keys)[0]), keyring.fernet(keys)
    rewritten = 0
    fetched = select(Recording.path, Case.reference).join(Case, Case.id == Recording.case_id)
    for path, reference in db.execute(fetched.where(Recording.status == "fetched")).all():
        target = _inside(root, path)
        try:
            token = target.read_bytes()
        except FileNotFoundError:
            continue  # deleted meanwhile: nothing left to protect
        try:
            first.decrypt(token)
            continue
        except InvalidToken:
            pass
        try:
            fresh = every.rotate(token)
        except InvalidToken:
            raise Unreadable(
                f"case {reference}: a recording opens with none of the keys in REPORTER_KEY "
                "(list the old key after the new one)"
            ) from None
        _write(target, fresh)
        rewritten += 1
    return rewritten


def _claim(db: Session, recording_id: int, now: datetime) -> Recording | None:
    """Take a pending recording that is due, for one fetch; None if done, gone or held."""
    held = db.execute(
        update(Recording)
        .where(Recording.id == recording_id, Recording.status == "pending")
        .where(or_(Recording.not_before.is_(None), Recording.not_before <= now))
        .values(not_before=now + timedelta(seconds=LEASE_S))
        .execution_options(synchronize_session=False)
    )
    recording = db.get(Recording, recording_id, populate_existing=True) if held.rowcount else None
    db.commit()  # no transaction stays open through the download
    return recording


def _retry(db: Session, recording: Recording, reason: str, now: datetime) -> Outcome:
    """Count a passing failure: try again with backoff (30 s doubling), or give up at the cap."""
    attempts = recording.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        error = f"gave up after {attempts} tries: {reason}"
        _finish(db, recording, status="failed", error=error[:200])
        return Outcome("failed", error=error)
    when = now + timedelta(seconds=min(3600, 30 * 2 ** (attempts - 1)))
    db.execute(
        update(Recording)
        .where(Recording.id == recording.id, Recording.status == "pending")
        .values(attempts=attempts, not_before=when, error=reason[:200])
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return Outcome("pending", when, reason)


def _finish(db: Session, recording: Recording, **values) -> bool:
    """End a fetch with values, if the recording is still there and pending; commit.

    The provider's URL is forgotten either way: kept, it could tie the call to a number.
    """
    result = db.execute(
        update(Recording)
        .where(Recording.id == recording.id, Recording.status == "pending")
        .values(attempts=Recording.attempts + 1, not_before=None, source_url=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return result.rowcount == 1


def _store(root: Path, stem: str, kind: str, audio: bytes, keys) -> str:
    """Write audio encrypted as <stem>.<kind>.enc under root, in place of any earlier try's
    file; return its path under root. Folders 0700, files 0600."""
    name = f"{stem}.{kind}{SUFFIX}"
    target = _inside(root, name)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.parent.mkdir(mode=0o700, exist_ok=True)
    _write(target, keyring.fernet(keys).encrypt(audio))
    _unlink(root, stem, keep=target)  # a try that wrote another format before it failed
    return name


def _write(target: Path, data: bytes) -> None:
    """Replace target with data at once: a reader sees the old file or the new, never half."""
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")  # 0600
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _unlink(root: Path, path: str, keep: Path | None = None) -> None:
    """Delete a recording's file, and any other format an earlier try wrote under its name."""
    target = _inside(root, path)
    stem = target.name.split(".", 1)[0]
    for found in target.parent.glob(f"{stem}*") if target.parent.is_dir() else ():
        if found != keep and found.name.split(".", 1)[0] == stem:
            found.unlink(missing_ok=True)


def _inside(root: Path, path: str) -> Path:
    """Return root/path, refusing a path that would lead out of root."""
    base = root.resolve()
    target = (base / path).resolve()
    if base not in target.parents:
        raise Unreadable("path outside RECORDINGS_DIR")
    return target
