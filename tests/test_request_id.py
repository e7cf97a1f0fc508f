"""X-Request-Id on the lines logged while a streamed answer is written out, after the app
returned its body to the server."""

import io
import json
import logging
import os

from flask import Response, stream_with_context
from werkzeug.wsgi import FileWrapper

from app.infra import logs
from app.web.request_id import RequestId

REQUEST = "req-streamed-0001"


def test_a_streamed_answer_keeps_the_requests_id_until_it_is_closed(make_app):
    app = make_app()
    log = logging.getLogger("tests.streamed")

    @app.get("/streamed-for-the-test")
    def streamed():
        def chunks():
            for n in range(3):
                log.warning("chunk %d", n)
                yield f"{n}\n"

        answer = Response(stream_with_context(chunks()), mimetype="text/plain")
        answer.call_on_close(lambda: log.warning("closed"))
        return answer

    out = io.StringIO()
    handler = logs.prepare(logging.StreamHandler(out), "json")
    log.addHandler(handler)
    try:
        client = app.test_client()
        answer = client.get("/streamed-for-the-test", headers={"X-Request-Id": REQUEST},
                            buffered=False)  # fmt: skip
        assert logs.request_id() is None  # the app has returned: the server writes the body
        body = b"".join(answer.response)
        answer.close()
    finally:
        log.removeHandler(handler)
    assert body == b"0\n1\n2\n" and answer.headers["X-Request-Id"] == REQUEST
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["message"], line["request_id"]) for line in lines] == [
        ("chunk 0", REQUEST), ("chunk 1", REQUEST), ("chunk 2", REQUEST), ("closed", REQUEST),
    ]  # fmt: skip
    assert logs.request_id() is None  # nothing is left behind once it is written out


def test_a_file_reaches_the_server_as_it_is(tmp_path):
    """gunicorn sends a wsgi.file_wrapper's file with sendfile(): only if it gets it unwrapped."""
    recording = tmp_path / "prompt.mp3"
    recording.write_bytes(b"ID3")

    def serve(environ, start_response):
        start_response("200 OK", [("Content-Type", "audio/mpeg")])
        return environ["wsgi.file_wrapper"](recording.open("rb"))

    body = RequestId(serve)({"wsgi.file_wrapper": FileWrapper}, lambda *_: None)
    assert type(body) is FileWrapper
    body.close()


def test_each_request_and_each_forked_worker_draws_ids_of_its_own(client):
    """Ids come from Python's generator: gunicorn's workers, forked alike, must not share them."""
    drawn = {client.get("/healthz").headers["X-Request-Id"] for _ in range(20)}
    assert len(drawn) == 20
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its id down the pipe, then out without pytest's teardown
        try:
            os.write(write, client.get("/healthz").headers["X-Request-Id"].encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    mine = client.get("/healthz").headers["X-Request-Id"]
    assert len(child) == 32 and child != mine and child not in drawn
