"""Plain result types of an ingest: what was detected, repaired and stored."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Dialect:
    """How the file was read; every field can be overridden on a re-parse."""

    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    escapechar: str | None = None
    decimal: str = "."
    thousands: str | None = None
    header: bool = True
    skipped_lines: int = 0
    header_rows: int = 1
    skipinitialspace: bool = False


@dataclass
class Repairs:
    """Rows that did not fit the table: repaired (kept) or skipped, with their first lines."""

    rows_repaired: int = 0
    rows_skipped: int = 0
    lines: list[int] = field(default_factory=list)

    def note(self, line: int, repaired: bool) -> None:
        if repaired:
            self.rows_repaired += 1
        else:
            self.rows_skipped += 1
        if len(self.lines) < 20:
            self.lines.append(line)


@dataclass
class ColumnInfo:
    """One stored column: its name, kind and counts (kind is one of `kinds.KINDS`)."""

    name: str
    kind: str
    missing: int
    unique: int
    date_format: str | None = None


@dataclass
class IngestWarning:
    code: str
    message: str
    column: str | None = None


@dataclass
class IngestResult:
    n_rows: int
    n_cols: int
    dialect: Dialect
    columns: list[ColumnInfo]
    warnings: list[IngestWarning]
    repairs: Repairs
    # The stored version's profile (app.ml.profile), when the ingest was asked to compute it.
    profile: dict | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The API's dataset fields (`dialect`, `columns`, `warnings`, `repairs`, counts)."""
        profile, self.profile = self.profile, None
        try:
            data = asdict(self)
        finally:
            self.profile = profile
        del data["profile"]
        dialect = data["dialect"]
        data["dialect"] = {
            key: dialect[key]
            for key in (
                "encoding", "delimiter", "quotechar", "escapechar", "decimal",
                "thousands", "header", "skipped_lines",
            )
        }
        data["columns"] = [
            {k: c[k] for k in ("name", "kind", "missing", "unique")} for c in data["columns"]
        ]
        data["warnings"] = [
            {k: v for k, v in w.items() if v is not None or k != "column"}
            for w in data["warnings"]
        ]
        return data
