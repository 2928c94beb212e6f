"""Plain-language warnings a beginner needs before training, derived from a computed profile."""

from __future__ import annotations

HIGH_CARDINALITY = 50  # distinct values above which a categorical column is hard to learn from
SKEW_LIMIT = 2.0  # absolute sample skewness above which a column is called skewed
IMBALANCE_SHARE = 0.10  # the rarest class below this share of rows makes a target imbalanced
TARGET_MAX_CLASSES = 20  # a column with more classes is not offered as a classification target
ID_MIN_ROWS = 20  # "a different value in every row" means little on a handful of rows


def profile_warnings(profile: dict, skews: dict) -> list[dict]:
    """[{code, message, column?}] in column order, then whole-table warnings."""
    n = profile["n_rows"]
    out: list[dict] = []
    for col in profile["columns"]:
        name, kind, unique, missing = col["name"], col["kind"], col["unique"], col["missing"]
        present = n - missing
        if n == 0:
            continue
        if missing == n:
            out.append(
                _w("empty_column", f"Column “{name}” is empty: every value is missing.", name)
            )
            continue
        if unique == 1:
            out.append(
                _w(
                    "constant_column",
                    f"Column “{name}” holds the same value in every row, "
                    "so it cannot help a model; you can drop it.",
                    name,
                )
            )
        if missing > n / 2:
            out.append(
                _w(
                    "mostly_missing",
                    f"Column “{name}” is missing in {missing / n:.0%} of the "
                    "rows; consider dropping it or filling the gaps.",
                    name,
                )
            )
        if kind == "id" or (
            kind in ("integer", "text", "categorical")
            and present >= ID_MIN_ROWS
            and unique == present
            and kind != "float"
        ):
            out.append(
                _w(
                    "id_like",
                    f"Column “{name}” has a different value in every row, like an "
                    "identifier; it should not be used to train a model.",
                    name,
                )
            )
        elif kind == "categorical" and unique > HIGH_CARDINALITY:
            out.append(
                _w(
                    "high_cardinality",
                    f"Column “{name}” has {unique:,} different values; "
                    "a model learns little from so many categories.",
                    name,
                )
            )
        skew = skews.get(name)
        if (
            kind in ("integer", "float")
            and unique > 2
            and skew is not None
            and abs(skew) > SKEW_LIMIT
        ):
            side = "a few very large values" if skew > 0 else "a few very small values"
            out.append(
                _w(
                    "skewed",
                    f"Column “{name}” is strongly skewed ({side}); averages can "
                    "mislead, and a log scale may suit it better.",
                    name,
                )
            )
        top = col.get("top_values")
        if top and 2 <= unique <= TARGET_MAX_CLASSES and present:
            rare = min(top, key=lambda t: t["count"])
            share = rare["count"] / present
            if share < IMBALANCE_SHARE:
                out.append(
                    _w(
                        "imbalanced",
                        f"If you predict “{name}”, its rarest class "
                        f"“{rare['value']}” is only {share:.1%} of the rows; a model may "
                        "ignore it, so look at balanced accuracy, not plain accuracy.",
                        name,
                    )
                )
    dups = profile["duplicated_rows"]
    if dups:
        out.append(
            _w(
                "duplicated_rows",
                f"{dups:,} row{'s are exact copies' if dups > 1 else ' is an exact copy'}"
                " of another row; you can drop duplicates in Clean.",
            )
        )
    return out


def _w(code: str, message: str, column: str | None = None) -> dict:
    warning = {"code": code, "message": message}
    if column is not None:
        warning["column"] = column
    return warning
