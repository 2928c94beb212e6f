"""Upload bodies under gunicorn are read in large blocks, with the same bytes and bookkeeping."""

import io
import socket
import threading

from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader
from werkzeug.test import EnvironBuilder

from app.storage import LengthBodyReader, UploadRequest


def gunicorn_body(payload: bytes) -> tuple[Body, list[int]]:
    """A gunicorn request body arriving over a socket, and the sizes its reader was asked for."""
    ours, theirs = socket.socketpair()

    def send():
        with ours:
            ours.sendall(payload)

    threading.Thread(target=send, daemon=True).start()
    reader = LengthReader(SocketUnreader(theirs), len(payload))
    asked: list[int] = []
    read = reader.read
    reader.read = lambda size: asked.append(size) or read(size)
    return Body(reader), asked


def multipart(content: bytes) -> dict:
    environ = EnvironBuilder(method="POST", data={"file": (io.BytesIO(content), "data.csv")}).get_environ()
    environ["payload"] = environ["wsgi.input"].read()
    return environ


def test_a_multipart_upload_is_read_in_large_blocks_with_the_same_bytes(app):
    content = b"".join(b"%d,row %d,\xc3\xa9\n" % (i, i) for i in range(60_000))  # ~1 MB
    environ = multipart(content)
    environ["wsgi.input"], asked = gunicorn_body(environ.pop("payload"))
    with app.app_context():
        request = UploadRequest(environ)
        assert request.files["file"].read() == content
        request.close()
    # gunicorn's own Body.read asks for 1 KB at a time: over a thousand reads for this file
    assert 0 < len(asked) < 40
    assert min(asked[:-1]) >= 16 * 1024


def test_readline_then_read_gives_every_byte_once_and_leaves_the_rest_counted():
    payload = b"first line\nsecond line\n" + bytes(range(256)) * 400
    body, _ = gunicorn_body(payload)
    stream = LengthBodyReader.wrap(body)
    assert stream.readline() == b"first line\n"
    assert stream.read(5) == b"secon"
    middle = stream.read(50_000)
    assert len(middle) == 50_000
    assert payload == b"first line\nsecon" + middle + stream.read()
    # what nobody read is still owed: gunicorn drains it before the connection's next request
    body2, _ = gunicorn_body(payload)
    LengthBodyReader.wrap(body2).read(1000)
    assert body2.reader.length == len(payload) - 1000


def test_read_without_a_size_reads_to_the_end():
    payload = b"x" * 300_000
    body, _ = gunicorn_body(payload)
    stream = LengthBodyReader.wrap(body)
    assert stream.read() == payload
    assert stream.read(10) == b""


def test_other_streams_are_left_alone():
    stream = io.BytesIO(b"abc")
    assert LengthBodyReader.wrap(stream) is stream
    assert LengthBodyReader.wrap(None) is None
