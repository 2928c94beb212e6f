"""Backups: the database, DATA_DIR and the MLflow store in one tar.gz, restorable elsewhere.

Archive layout (every path relative):
    manifest.json               format, created_at, alembic revision, what is inside
    database/app.sqlite3        SQLite: a consistent copy made with sqlite3's backup API
    database/app.pgdump         PostgreSQL: `pg_dump --format=custom`
    data/...                    DATA_DIR (datasets, batch outputs; temporary uploads left out)
    mlflow/mlflow.db            the MLflow SQLite store (backup API)
    mlflow/artifacts/...        MLFLOW_ARTIFACT_ROOT (runs' and logged models' files)

Order gives a consistent point: the app database first, then the MLflow store, then the
files. Whatever the database copy refers to was written before it (files are written
first, recorded second), so it is in the archive unless deleted during the backup.

The MLflow store keeps absolute artifact locations (per experiment, run, logged model and
model version); a restore rewrites the old root to the new MLFLOW_ARTIFACT_ROOT. Paths in
the app database are relative to DATA_DIR already.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

FORMAT = "csv-analyzer-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TOP_LEVEL = {MANIFEST, "database", "data", "mlflow"}
SKIP_DATA = ("uploads",)  # in-flight temporary uploads and downloads
PATH_COLUMNS = {  # MLflow tables and their columns holding artifact locations
    "experiments": ("artifact_location",),
    "runs": ("artifact_uri",),
    "logged_models": ("artifact_location",),
    "model_versions": ("source", "storage_location"),
}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


@dataclass
class Layout:
    """Where this installation keeps what a backup holds."""

    database_url: str
    data_dir: Path
    mlflow_db: Path | None  # None: a remote MLflow server (backed up on its own side)
    artifact_root: Path
    instance_dir: Path

    @classmethod
    def of(cls, app: Flask) -> Layout:
        uri = app.config["MLFLOW_TRACKING_URI"]
        return cls(
            database_url=app.config["SQLALCHEMY_DATABASE_URI"],
            data_dir=Path(app.config["DATA_DIR"]).resolve(),
            mlflow_db=Path(uri.removeprefix("sqlite:///")).resolve() if uri.startswith("sqlite:///") else None,
            artifact_root=Path(app.config["MLFLOW_ARTIFACT_ROOT"]).resolve(),
            instance_dir=Path(app.config["INSTANCE_DIR"]).resolve(),
        )

    @property
    def database_kind(self) -> str:
        if self.database_url.startswith("sqlite:"):
            return "sqlite"
        if self.database_url.startswith(("postgresql", "postgres")):
            return "postgresql"
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {self.database_url.split(':')[0]}.")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///")).resolve()

    @property
    def libpq_url(self) -> str:
        """The URL without SQLAlchemy's driver suffix, as pg_dump and pg_restore take it."""
        scheme, rest = self.database_url.split("://", 1)
        return "postgresql://" + rest if scheme.startswith("postgres") else self.database_url


# --- create --------------------------------------------------------------------------

def sqlite_copy(source: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included) with the backup API."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(dest)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def alembic_revision(app: Flask) -> str | None:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from app.extensions import db

    with app.app_context():
        try:
            return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:
            return None
        finally:
            db.session.remove()


def _add_tree(tar: tarfile.TarFile, folder: Path, arcname: str, skip: tuple[str, ...] = ()) -> int:
    """Regular files and folders only (links are not followed nor stored); the bytes added."""
    total = 0
    if not folder.is_dir():
        return 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in skip or path.is_symlink():
            continue
        if path.is_file():
            tar.add(path, arcname=f"{arcname}/{rel.as_posix()}", recursive=False)
            total += path.stat().st_size
    return total


def create_backup(app: Flask, dest: str | os.PathLike) -> dict:
    """Write the archive to `dest` (atomically); returns its manifest."""
    layout = Layout.of(app)
    dest = Path(dest).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    manifest = {
        "format": FORMAT, "version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "alembic_revision": alembic_revision(app),
        "database": {"kind": layout.database_kind},
        "data": "data",
        "mlflow": None,
    }
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".backup-") as tmp:
        tmp = Path(tmp)
        if layout.database_kind == "sqlite":
            sqlite_copy(layout.sqlite_path, tmp / "app.sqlite3")
            manifest["database"]["path"] = "database/app.sqlite3"
        else:
            _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(tmp / "app.pgdump"),
                  "--dbname", layout.libpq_url], "pg_dump")
            manifest["database"]["path"] = "database/app.pgdump"
        if layout.mlflow_db is not None and layout.mlflow_db.exists():
            sqlite_copy(layout.mlflow_db, tmp / "mlflow.db")
            manifest["mlflow"] = {"db": "mlflow/mlflow.db", "artifacts": "mlflow/artifacts",
                                  "artifact_root_uri": layout.artifact_root.as_uri()}
        partial = dest.with_name(dest.name + ".partial")
        with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
            tar.add(tmp / Path(manifest["database"]["path"]).name, arcname=manifest["database"]["path"])
            sizes = {"database": (tmp / Path(manifest["database"]["path"]).name).stat().st_size}
            if manifest["mlflow"]:
                tar.add(tmp / "mlflow.db", arcname="mlflow/mlflow.db")
                sizes["mlflow_artifacts"] = _add_tree(tar, layout.artifact_root, "mlflow/artifacts")
            sizes["data"] = _add_tree(tar, layout.data_dir, "data", skip=SKIP_DATA)
            manifest["bytes"] = sizes
            manifest["seconds"] = round(time.perf_counter() - started, 3)
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
        os.replace(partial, dest)
    return manifest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _run(cmd: list[str], what: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(f"{what} is not installed; it is needed for a PostgreSQL database.") from exc
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-2000:]}")


# --- restore -------------------------------------------------------------------------

def read_manifest(archive: Path) -> dict:
    """Check every member (no absolute paths, no '..', no links or devices) and read the manifest."""
    manifest = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name
                parts = Path(name).parts
                if name.startswith(("/", "\\")) or ".." in parts or not parts or parts[0] not in TOP_LEVEL:
                    raise BackupError(f"Refused: the archive holds an unexpected path {name!r}.")
                if not (member.isfile() or member.isdir()):
                    raise BackupError(f"Refused: the archive holds a link or special file {name!r}.")
                if name == MANIFEST:
                    manifest = json.loads(tar.extractfile(member).read())
    except (OSError, tarfile.TarError, json.JSONDecodeError) as exc:
        raise BackupError(f"Not a readable backup archive: {exc}") from exc
    if not manifest or manifest.get("format") != FORMAT:
        raise BackupError("Refused: no manifest of a CSV Analyzer backup in the archive.")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(f"Backup format version {manifest.get('version')} is not supported here.")
    return manifest


def instance_contents(app: Flask) -> list[str]:
    """What the target installation already holds (empty list: safe to restore into)."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from app.extensions import db
    from app.models import User

    layout = Layout.of(app)
    found = []
    with app.app_context():
        try:
            users = db.session.scalar(select(func.count(User.id)))
        except SQLAlchemyError:
            users = 0  # no tables yet
        finally:
            db.session.remove()
    if users:
        found.append(f"{users} user(s) in the database")
    data = [p for p in layout.data_dir.rglob("*") if p.is_file() and p.relative_to(layout.data_dir).parts[0]
            not in SKIP_DATA] if layout.data_dir.is_dir() else []
    if data:
        found.append(f"{len(data)} file(s) in {layout.data_dir}")
    artifacts = [p for p in layout.artifact_root.rglob("*") if p.is_file()] if layout.artifact_root.is_dir() else []
    if artifacts:
        found.append(f"{len(artifacts)} file(s) in {layout.artifact_root}")
    return found


def restore_backup(app: Flask, archive: str | os.PathLike, *, force: bool = False) -> dict:
    """Restore an archive into this installation; refuses a non-empty one unless `force`."""
    from app.extensions import db

    layout = Layout.of(app)
    archive = Path(archive).resolve()
    started = time.perf_counter()
    manifest = read_manifest(archive)
    if manifest["database"]["kind"] != layout.database_kind:
        raise BackupError(f"The archive holds a {manifest['database']['kind']} database; this installation "
                          f"uses {layout.database_kind}.")
    existing = instance_contents(app)
    if existing and not force:
        raise BackupError("Refused: this installation is not empty (" + "; ".join(existing)
                          + "). Restore into an empty INSTANCE_DIR, or pass --force to replace it.")
    layout.instance_dir.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    with tempfile.TemporaryDirectory(dir=layout.instance_dir, prefix=".restore-") as tmp:
        tmp = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        _restore_database(layout, tmp / manifest["database"]["path"])
        _replace_tree(tmp / "data", layout.data_dir, keep=SKIP_DATA)
        if manifest.get("mlflow"):
            if layout.mlflow_db is None:
                raise BackupError("The archive holds an MLflow store, but MLFLOW_TRACKING_URI is not a "
                                  "local SQLite store here.")
            _replace_tree(tmp / "mlflow" / "artifacts", layout.artifact_root)
            layout.mlflow_db.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(str(layout.mlflow_db) + suffix).unlink(missing_ok=True)
            sqlite_copy(tmp / "mlflow" / "mlflow.db", layout.mlflow_db)
            rewrite_store_paths(layout.mlflow_db, manifest["mlflow"]["artifact_root_uri"], layout.artifact_root)
    with app.app_context():
        db.engine.dispose()
    _forget_cached_stores()
    return {**manifest, "restore_seconds": round(time.perf_counter() - started, 3)}


def _restore_database(layout: Layout, dump: Path) -> None:
    if layout.database_kind == "sqlite":
        target = layout.sqlite_path
        target.parent.mkdir(parents=True, exist_ok=True)
        sqlite_copy(dump, target)  # into the live file through SQLite, so its WAL stays coherent
    else:
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--dbname", layout.libpq_url, str(dump)], "pg_restore")


def _replace_tree(source: Path, target: Path, keep: tuple[str, ...] = ()) -> None:
    """Make `target` hold exactly `source`'s files (`keep`: top-level names left alone)."""
    target.mkdir(parents=True, exist_ok=True)
    for child in target.iterdir():
        if child.name in keep:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    if source.is_dir():
        for child in source.iterdir():
            shutil.move(child, target / child.name)  # a rename on the same file system


def rewrite_store_paths(mlflow_db: Path, old_root_uri: str, new_root: Path) -> int:
    """Point every artifact location under the old root at the same place under `new_root`."""
    old_uri = old_root_uri.rstrip("/")
    old_path = old_uri.removeprefix("file://")
    new_uri = Path(new_root).resolve().as_uri()
    new_path = str(Path(new_root).resolve())
    changed = 0
    with sqlite3.connect(mlflow_db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, columns in PATH_COLUMNS.items():
            if table not in tables:
                continue
            present = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column not in present:
                    continue
                for old, new in ((old_uri, new_uri), (old_path, new_path)):
                    changed += conn.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "  # noqa: S608 (fixed names)
                        f"WHERE {column} = ? OR {column} LIKE ? ESCAPE '\\'",
                        (new, len(old) + 1, old, _like_prefix(old + "/"))).rowcount
    conn.close()
    return changed


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _forget_cached_stores() -> None:
    """MLflow caches a store per URI; the restored file must be read afresh (if MLflow is loaded)."""
    import sys

    utils = sys.modules.get("mlflow.tracking._tracking_service.utils")
    cache = getattr(utils, "_get_sqlalchemy_store", None)
    if cache is not None and hasattr(cache, "cache_clear"):
        cache.cache_clear()
