"""MkDocs hook: renders the configuration page's tables from `core/config.py` at build time.

The page's source holds markers (`<!-- settings -->`, `<!-- elsewhere -->`) that this hook replaces with
tables built from `core.config.settings()` and `core.config.ELSEWHERE`: the variables `Config.from_env`
reads, their defaults and meanings, stated once, in the code. Secret settings never show a value.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.config import ELSEWHERE, settings  # noqa: E402 (the repository root goes on the path first)

PAGE = "configuration.md"
MARKERS = ("<!-- settings -->", "<!-- elsewhere -->")


def _default(value: Any) -> str:
    if value is None or value == "" or value == ():
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for _name, setting, default in settings():
        names = ", ".join(f"`{env}`" for env in setting.env)
        shown = setting.shown or ("not shown" if setting.secret else _default(default))
        rows.append(f"| {names} | {_cell(shown)} | {_cell(setting.help)} |")
    return "\n".join(rows)


def elsewhere_table() -> str:
    rows = ["| variable | default | meaning | read by |", "| --- | --- | --- | --- |"]
    for variable in ELSEWHERE:
        rows.append(
            f"| `{variable.name}` | {_cell(variable.default)} | {_cell(variable.help)} | {_cell(variable.read_by)} |"
        )
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    for marker in MARKERS:
        if marker not in markdown:
            raise ValueError(f"docs/{PAGE} lacks the marker {marker}")
    return markdown.replace(MARKERS[0], settings_table()).replace(MARKERS[1], elsewhere_table())
