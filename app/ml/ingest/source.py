"""Turn an upload into a clean UTF-8 text file: unwrap gzip/zip, refuse binaries and bombs.

The content decides, never the file name. Decompression streams with a byte budget so a
small archive that expands past the limit is stopped early (413). Text that is not plain
UTF-8, or that holds NUL/control characters, is transcoded once into a temporary UTF-8 file
so the parsers downstream only ever see UTF-8.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import os
import stat
import tempfile
import threading
import zipfile
import zlib
from concurrent.futures import Future
from dataclasses import dataclass, field

from .errors import BadArchive, NotText, TooLarge

CHUNK = 8 << 20
CHECK_CHUNK = 1 << 20  # the check runs beside the parse: small reads keep its memory out of the peak
SAMPLE = 1 << 20
CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
CONTROL_TABLE = {c: None for c in CONTROL_BYTES}

BINARY_MAGIC = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "an executable (ELF)"),
    (b"\xcf\xfa\xed\xfe", "an executable (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "an executable (Mach-O)"),
    (b"\x00asm", "a WebAssembly binary"),
    (b"\xd0\xcf\x11\xe0", "an Office document"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!", "a RAR archive"),
    (b"SQLite format 3\x00", "a SQLite database"),
    (b"PAR1", "a Parquet file"),
    (b"RIFF", "a media file"),
    (b"OggS", "a media file"),
    (b"ID3", "an audio file"),
    (b"\x1a\x45\xdf\xa3", "a video file"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
]
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass
class TextSource:
    """A UTF-8 file ready to parse, the encoding it came in, and files to delete afterwards."""

    path: str
    encoding: str
    control_chars_removed: int = 0
    temp_files: list[str] = field(default_factory=list)
    # open_text(defer_check=True): whether `path` is clean UTF-8 is still being checked (a
    # thread); if it turns out not to be, `transcoded()` gives the source to read instead.
    pending: Future | None = field(default=None, repr=False)
    work_dir: str | None = field(default=None, repr=False)

    def is_clean(self) -> bool:
        """Waits for a deferred check; True when there was none."""
        return self.pending is None or self.pending.result()

    def transcoded(self) -> TextSource:
        """The transcoded copy a deferred check found necessary (its temporary file joins ours)."""
        source = _transcode(self.path, self.encoding, self.work_dir or tempfile.gettempdir(),
                            self.temp_files)
        source.temp_files = self.temp_files
        return source

    def cleanup(self) -> None:
        for path in self.temp_files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def open_text(src_path: str, *, max_bytes: int, encoding: str | None = None,
              work_dir: str | None = None, defer_check: bool = False) -> TextSource:
    """Unwrap, check and transcode `src_path`; the caller must `cleanup()` the result.

    Temporary files go to `work_dir` (the destination's folder for an upload), else the
    system temporary folder: never next to a source that may be read-only or shared.
    `defer_check=True`: a file whose first MB is UTF-8 is returned at once while a thread
    checks the rest for invalid bytes and control characters; the caller reads it meanwhile
    and must then ask `is_clean()`, and read `transcoded()` instead when it is not.
    """
    work_dir = work_dir or tempfile.gettempdir()
    temps: list[str] = []
    try:
        raw = _unwrap(src_path, max_bytes, work_dir, temps)
        with open(raw, "rb") as fh:
            head = fh.read(SAMPLE)
        if not head.strip():
            return TextSource(raw, encoding or "utf-8", 0, temps)
        _refuse_binary_magic(head)
        enc = _resolve_encoding(head, encoding)
        if defer_check and enc in ("utf-8", "utf-8-sig"):
            return TextSource(raw, enc, 0, temps, _in_thread(_clean_utf8, raw), work_dir)
        source = _to_utf8(raw, enc, work_dir, temps)
        source.temp_files = temps
        return source
    except BaseException:
        for path in temps:
            if os.path.exists(path):
                os.unlink(path)
        raise


def _unwrap(src_path: str, max_bytes: int, work_dir: str, temps: list[str]) -> str:
    with open(src_path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(GZIP_MAGIC):
        return _gunzip(src_path, max_bytes, work_dir, temps)
    if magic in ZIP_MAGIC:
        return _unzip(src_path, max_bytes, work_dir, temps)
    if os.path.getsize(src_path) > max_bytes:
        raise TooLarge(f"the file is larger than the {_mb(max_bytes)} limit")
    return src_path


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.0f} MB" if n >= 1 << 20 else f"{n} bytes"


def _new_temp(work_dir: str, temps: list[str], suffix: str) -> str:
    fd, path = tempfile.mkstemp(prefix=".ingest-", suffix=suffix, dir=work_dir)
    os.close(fd)
    temps.append(path)
    return path


def _copy_limited(reader, path: str, max_bytes: int, what: str) -> None:
    written = 0
    with open(path, "wb") as out:
        while True:
            chunk = reader.read(1 << 20)
            if not chunk:
                break
            written += len(chunk)
            if written > max_bytes:
                raise TooLarge(f"{what} expands past the {_mb(max_bytes)} limit")
            out.write(chunk)


def _gunzip(src_path: str, max_bytes: int, work_dir: str, temps: list[str]) -> str:
    path = _new_temp(work_dir, temps, ".raw")
    try:
        with gzip.open(src_path, "rb") as reader:
            _copy_limited(reader, path, max_bytes, "the compressed file")
    except (OSError, EOFError, zlib.error) as exc:
        raise BadArchive(f"the gzip file is damaged: {exc}") from None
    return path


def _unzip(src_path: str, max_bytes: int, work_dir: str, temps: list[str]) -> str:
    try:
        archive = zipfile.ZipFile(src_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadArchive(f"the zip file is damaged: {exc}") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        for member in archive.infolist():
            name = member.filename.replace("\\", "/")
            if name.startswith("/") or ".." in name.split("/") or ":" in name.split("/")[0]:
                raise BadArchive(f"the zip holds an unsafe path ({member.filename}); nothing extracted")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise BadArchive(f"the zip holds a link ({member.filename}); nothing extracted")
        if len(members) != 1:
            raise BadArchive(
                f"the zip must hold exactly one CSV file, it holds {len(members)}; nothing extracted"
            )
        path = _new_temp(work_dir, temps, ".raw")
        try:
            with archive.open(members[0]) as reader:
                _copy_limited(reader, path, max_bytes, "the zip member")
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
            raise BadArchive(f"the zip member cannot be read: {exc}") from None
    return path


def _refuse_binary_magic(head: bytes) -> None:
    for magic, what in BINARY_MAGIC:
        if head.startswith(magic):
            raise NotText(f"this is {what}, not a CSV text file")
    if head.startswith(GZIP_MAGIC) or head[:4] in ZIP_MAGIC:
        raise NotText("this is a nested archive, not a CSV text file")
    if head.startswith(b"MZ") and b"\x00" in head[:64]:
        raise NotText("this is an executable, not a CSV text file")


def _resolve_encoding(head: bytes, override: str | None) -> str:
    if override:
        try:
            return codecs.lookup(override).name
        except LookupError:
            from .errors import BadOverride

            raise BadOverride(f"unknown encoding {override!r}") from None
    return detect_encoding(head)


def detect_encoding(head: bytes) -> str:
    """BOM first, then strict UTF-8, then UTF-16 by its NUL pattern, then charset-normalizer."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    even, odd = head[0::2], head[1::2]
    if len(head) >= 4 and odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if len(head) >= 4 and even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    if _is_utf8(head):
        _refuse_control_heavy(head)
        return "utf-8"
    _refuse_control_heavy(head)
    return _guess_single_byte(head)


def _is_utf8(head: bytes) -> bool:
    for cut in range(4):  # the sample may end inside a multi-byte character
        try:
            head[: len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                return False
    return False


def _refuse_control_heavy(head: bytes) -> None:
    controls = len(head) - len(head.translate(None, CONTROL_BYTES))
    if controls > max(0.05 * len(head), 32) or head.count(0) > 0.01 * len(head) + 16:
        raise NotText("the file holds binary data, not CSV text")


OTHER_SCRIPTS = {
    "cp1251", "mac-cyrillic", "koi8-r", "koi8-u", "iso8859-5", "cp866", "cp1253", "iso8859-7", "cp1255",
    "iso8859-8", "cp1256", "iso8859-6", "shift_jis", "cp932", "euc_jp", "gb2312", "gbk",
    "gb18030", "big5", "euc_kr", "cp949", "tis-620", "cp874", "iso2022_jp",
}


def _guess_single_byte(head: bytes) -> str:
    """cp1252 (a superset of Latin-1's letters) unless charset-normalizer, given enough
    non-ASCII bytes to judge, recognises another script (Cyrillic, Greek, CJK...)."""
    non_ascii = sum(1 for b in head[:200_000] if b >= 0x80)
    name = None
    if non_ascii >= 32:  # a handful of accented letters is no evidence of another script
        try:
            from charset_normalizer import from_bytes

            best = from_bytes(head[:200_000]).best()
            name = codecs.lookup(best.encoding).name if best is not None else None
        except Exception:  # detection is best effort
            name = None
    if name == "mac-cyrillic" and _decodes(head, "cp1251"):
        return "cp1251"  # both decode; Windows files are far more common
    if name in OTHER_SCRIPTS:
        return name
    return "cp1252" if _decodes(head, "cp1252") else "latin-1"


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def _in_thread(fn, *args) -> Future:
    """`fn(*args)` run in a daemon thread (its exception, if any, raised by `result()`)."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="utf8-check", daemon=True).start()
    return future


def _to_utf8(raw: str, encoding: str, work_dir: str, temps: list[str]) -> TextSource:
    """Reuse `raw` when it is clean UTF-8, else write a transcoded copy without control chars."""
    if encoding in ("utf-8", "utf-8-sig") and _clean_utf8(raw):
        return TextSource(raw, encoding)
    return _transcode(raw, encoding, work_dir, temps)


def _transcode(raw: str, encoding: str, work_dir: str, temps: list[str]) -> TextSource:
    if encoding == "utf-8" and not _valid_utf8(raw):
        encoding = "cp1252"  # a late invalid byte: the sample was ASCII-only
    path = _new_temp(work_dir, temps, ".csv")
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    removed = 0
    with open(raw, "rb") as src, open(path, "w", encoding="utf-8", newline="") as out:
        first = True
        while True:
            chunk = src.read(CHUNK)
            text = decoder.decode(chunk, final=not chunk)
            if first and text.startswith("\ufeff"):
                text = text[1:]
            first = False
            cleaned = text.translate(CONTROL_TABLE)
            removed += len(text) - len(cleaned)
            out.write(cleaned)
            if not chunk:
                break
    label = "utf-8" if encoding == "utf-8-sig" else encoding
    return TextSource(path, label, removed)


def _clean_utf8(path: str) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHECK_CHUNK):
            if len(chunk.translate(None, CONTROL_BYTES)) != len(chunk):
                return False
            if chunk.isascii() and not decoder.getstate()[0]:
                continue  # ASCII is UTF-8 (nothing pending from a character cut by the chunk)
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
    return True


def _valid_utf8(path: str) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
