"""Upload bodies under gunicorn are read in large blocks, with the same bytes and bookkeeping."""

import contextlib
import io
import socket
import threading

from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader
from werkzeug.test import EnvironBuilder

from app.storage import LengthBodyReader, UploadRequest


class CountingSocket:
    """A socket that counts the reads made from it."""

    def __init__(self, sock):
        self.sock, self.reads = sock, 0

    def recv(self, size):
        self.reads += 1
        return self.sock.recv(size)

    def recv_into(self, buffer, size=0):
        self.reads += 1
        return self.sock.recv_into(buffer, size)


def gunicorn_body(payload: bytes, held: bytes = b"") -> tuple[Body, CountingSocket]:
    """A gunicorn request body arriving over a socket (`held`: its first bytes, which
    gunicorn read with the headers), and that socket."""
    ours, theirs = socket.socketpair()

    def send():
        # a test that reads part of the body closes its end first
        with ours, contextlib.suppress(OSError):
            ours.sendall(payload[len(held):])

    threading.Thread(target=send, daemon=True).start()
    sock = CountingSocket(theirs)
    unreader = SocketUnreader(sock)
    unreader.unread(held)
    return Body(LengthReader(unreader, len(payload))), sock


def multipart(content: bytes) -> dict:
    environ = EnvironBuilder(method="POST", data={"file": (io.BytesIO(content), "data.csv")}).get_environ()
    environ["payload"] = environ["wsgi.input"].read()
    return environ


def test_a_multipart_upload_is_read_in_large_blocks_with_the_same_bytes(app):
    content = b"".join(b"%d,row %d,\xc3\xa9\n" % (i, i) for i in range(60_000))  # ~1 MB
    environ = multipart(content)
    environ["wsgi.input"], sock = gunicorn_body(environ.pop("payload"))
    with app.app_context():
        request = UploadRequest(environ)
        assert request.files["file"].read() == content
        request.close()
    # gunicorn reads 8 KB per recv (over 120 for this file), and its Body.read asks for 1 KB
    assert 0 < sock.reads < 60


def test_bytes_gunicorn_read_with_the_headers_come_first_and_count():
    payload = bytes(range(256)) * 1000
    body, _ = gunicorn_body(payload, held=payload[:3000])
    stream = LengthBodyReader.wrap(body)
    assert stream.read(1000) == payload[:1000]
    assert body.reader.length == len(payload) - 1000
    assert stream.read(100_000) == payload[1000:101_000]
    assert stream.read() == payload[101_000:]
    assert body.reader.length == 0
    assert stream.read(10) == b""


def test_a_client_that_goes_away_gives_what_it_sent():
    ours, theirs = socket.socketpair()
    ours.sendall(b"only this")
    ours.close()
    body = Body(LengthReader(SocketUnreader(theirs), 1000))
    stream = LengthBodyReader.wrap(body)
    assert stream.read(500) == b"only this"
    assert stream.read(500) == b""


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
