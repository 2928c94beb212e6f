"""Files under DATA_DIR: generated names only, atomic writes, uploads streamed to disk.

A user's file name is only ever a label; every stored file is named by a random id.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from flask import Flask, Request, current_app

UPLOAD_DIR = "uploads"
STALE_UPLOAD_SECONDS = 3600  # older than any upload still being read
log = logging.getLogger(__name__)


def data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"])


def absolute(relative: str) -> Path:
    """The absolute path of a stored file, refusing anything that escapes DATA_DIR."""
    base = data_dir().resolve()
    path = (base / relative).resolve()
    if base not in path.parents:
        raise ValueError("path outside the data directory")
    return path


def relative(path: Path) -> str:
    return str(Path(path).resolve().relative_to(data_dir().resolve()))


def new_folder(kind: str) -> Path:
    """A fresh folder DATA_DIR/<kind>/<random id>."""
    folder = data_dir() / kind / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def remove_tree(relative_dir: str | None) -> None:
    if relative_dir:
        shutil.rmtree(absolute(relative_dir), ignore_errors=True)


def remove_file(path: Path | str | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class LengthBodyReader:
    """A gunicorn request body of known length, read in the caller's block size.

    gunicorn's ``Body.read`` pulls 1 KB at a time from a reader that copies its 8 KB socket
    chunk on every call: receiving a 160 MB upload took ~1 s of a worker's CPU, and its
    ``LengthReader`` still takes 8 KB per ``recv`` and copies each block twice (0.11 s for
    160 MB over loopback against 0.04 s). This reads the caller's whole block from the
    socket straight into one buffer, after the bytes gunicorn already holds, and keeps the
    reader's count of what is left, so gunicorn still drains an unread body before the
    connection's next request.
    """

    def __init__(self, body):
        self._body = body

    @classmethod
    def wrap(cls, stream):
        """``stream`` wrapped when it is a gunicorn body of known length, else itself."""
        try:
            from gunicorn.http.body import Body, LengthReader
        except ImportError:  # pragma: no cover - gunicorn is a dependency
            return stream
        if isinstance(stream, Body) and isinstance(stream.reader, LengthReader):
            return cls(stream)
        return stream

    def read(self, size: int | None = -1) -> bytes:
        body = self._body
        if body.buf.tell():  # what readline() read ahead comes first
            return body.read(size)
        reader = body.reader
        if size is None or size < 0 or size > reader.length:
            size = reader.length
        sock = getattr(reader.unreader, "sock", None)
        if size == 0 or not hasattr(sock, "recv_into"):
            return reader.read(size)
        held = reader.unreader.buf.getvalue()  # read past the headers, or unread by gunicorn
        if len(held) >= size:
            reader.unreader.buf = io.BytesIO(held[size:])
            reader.unreader.buf.seek(0, os.SEEK_END)
            reader.length -= size
            return held[:size]
        reader.unreader.buf = io.BytesIO()
        block = bytearray(size)
        block[: len(held)] = held
        view, got = memoryview(block), len(held)
        while got < size:
            n = sock.recv_into(view[got:])
            if not n:  # the client went away: what came is all there is
                break
            got += n
        reader.length -= got
        return bytes(view[:got])

    def readline(self, size: int | None = None) -> bytes:
        return self._body.readline(size)

    def __iter__(self):
        return iter(self._body)


class UploadRequest(Request):
    """Streams uploaded files straight into DATA_DIR/uploads, so they can be moved, not copied.

    Each temporary file is removed at the end of the request unless a service moved it.
    """

    def __init__(self, environ, *args, **kwargs):
        environ["wsgi.input"] = LengthBodyReader.wrap(environ.get("wsgi.input"))
        super().__init__(environ, *args, **kwargs)

    def _load_form_data(self) -> None:
        """Parse the body (once, whoever asks first: the CSRF check, a view) and log how long a
        multipart one took to arrive: for a large upload most of the request's time."""
        if "form" in self.__dict__ or self.mimetype != "multipart/form-data":
            return super()._load_form_data()
        started = time.perf_counter()
        super()._load_form_data()
        log.info("upload: request body of %d bytes received in %.2f s", self.content_length or 0,
                 time.perf_counter() - started)

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        folder = Path(current_app.config["DATA_DIR"]) / UPLOAD_DIR
        folder.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix="up-", suffix=".part", delete=False)  # noqa: SIM115
        self.__dict__.setdefault("_upload_paths", []).append(handle.name)
        return handle

    def upload_paths(self) -> list[str]:
        return self.__dict__.get("_upload_paths", [])


def sweep_stale_uploads(folder: Path, older_than: float = STALE_UPLOAD_SECONDS) -> int:
    """Remove temporary uploads a killed process left behind; returns how many."""
    removed = 0
    cutoff = time.time() - older_than
    leftovers = [*(folder / UPLOAD_DIR).glob("up-*.part"), *(folder / UPLOAD_DIR).glob("down-*")]
    for path in leftovers:  # uploads being received and downloads being sent when a worker died
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


def init_storage(app: Flask) -> None:
    app.request_class = UploadRequest
    sweep_stale_uploads(Path(app.config["DATA_DIR"]))

    @app.teardown_request
    def remove_unclaimed_uploads(_exc=None):
        from flask import request

        for path in request.upload_paths() if isinstance(request, UploadRequest) else []:
            if os.path.exists(path):
                os.unlink(path)
