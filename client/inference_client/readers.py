"""Input files as records: plain lines, JSONL (a field, or whole request bodies) or CSV (a column).

Every record keeps the number of the line it came from; blank lines are skipped (their numbers too), so
the output has one line per non-blank input line.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = ("lines", "jsonl", "csv", "tsv")
BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}
BODY_FIELDS = ("inputs", "text", "model", "parameters")


class InputError(Exception):
    """The input file cannot be read as asked (missing, not UTF-8, a bad line, an unknown column)."""


@dataclass(frozen=True)
class Record:
    line: int  # 1-based line of the input file (for CSV, the line where the row ends)
    text: str | None = None  # one input, batched with its neighbours
    body: dict[str, Any] | None = None  # a whole request body (JSONL), sent as a job of its own


def detect_format(path: Path) -> str:
    return BY_SUFFIX.get(path.suffix.lower(), "lines")


def read_records(path: Path, fmt: str | None = None, *, column: str | None = None, field: str | None = None) -> list:
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    if fmt == "jsonl":
        return list(_jsonl(path, text, field))
    if fmt in ("csv", "tsv"):
        return list(_csv(path, text, column, "\t" if fmt == "tsv" else ","))
    return [Record(n, text=line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _jsonl(path: Path, text: str, field: str | None):
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as e:
            raise InputError(f"{path}:{n}: not JSON ({e})") from None
        yield _json_record(path, n, value, field)


def _json_record(path: Path, n: int, value: Any, field: str | None) -> Record:
    if isinstance(value, str) and field is None:
        return Record(n, text=value)
    if not isinstance(value, dict):
        raise InputError(f"{path}:{n}: expected a JSON object or string, got {type(value).__name__}")
    if field is not None:
        if field not in value:
            raise InputError(f"{path}:{n}: no field {field!r} (fields: {', '.join(value) or 'none'})")
        picked = value[field]
        if not isinstance(picked, str):
            raise InputError(f"{path}:{n}: field {field!r} is a {type(picked).__name__}, not a string")
        return Record(n, text=picked)
    if "inputs" in value and "text" in value:
        raise InputError(f"{path}:{n}: give `inputs` or `text`, not both")
    inputs = value.get("inputs", value.get("text"))
    if inputs is None:
        raise InputError(f"{path}:{n}: no `text` or `inputs` field (name another one with --field)")
    if isinstance(inputs, str) and "model" not in value and "parameters" not in value:
        return Record(n, text=inputs)  # other fields (an id, a label) are the caller's own: ignored
    body = {"inputs": inputs, **{k: value[k] for k in ("model", "parameters") if k in value}}
    return Record(n, body=body)


def _csv(path: Path, text: str, column: str | None, delimiter: str):
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise InputError(f"{path}:1: {e}") from None
    index = _column(path, header, column)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise InputError(f"{path}:{reader.line_num}: {e}") from None
        if not any(cell.strip() for cell in row):
            continue
        if index >= len(row):
            raise InputError(f"{path}:{reader.line_num}: the row has no column {header[index]!r}")
        yield Record(reader.line_num, text=row[index])


def _column(path: Path, header: list[str], column: str | None) -> int:
    names = [name.strip() for name in header]
    if column is None:
        if "text" in names:
            return names.index("text")
        if len(names) == 1:
            return 0
        raise InputError(f"{path}: which column? name one with --column (columns: {', '.join(names)})")
    if column in names:
        return names.index(column)
    raise InputError(f"{path}: no column {column!r} (columns: {', '.join(names)})")
