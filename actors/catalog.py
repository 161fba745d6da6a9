"""The model catalog: named models, their task and source, read from a TOML file.

Light on purpose (stdlib only): the API process reads it to validate requests.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference_api.errors import ModelNotPrepared

MANIFEST = "manifest.json"  # written last by preparation: its presence means "prepared"
DEFAULT_CATALOG = Path(__file__).with_name("catalog.toml")
TASKS = frozenset({"feature-extraction"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_FIELDS = {"name", "source", "task", "max_length"}


class CatalogError(ValueError):
    """The catalog file is invalid; the message names the entry and the field."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str
    task: str
    max_length: int | None = None

    def source_path(self) -> Path | None:
        """The local directory holding the source weights, or None for a hub id."""
        if self.source.startswith("package:"):
            package = self.source.removeprefix("package:")
            try:
                module = importlib.import_module(package)
            except ImportError:
                raise CatalogError(
                    f"model {self.name!r}: source package {package!r} is not installed "
                    f"(pip install {package.replace('_', '-')})"
                ) from None
            getter = getattr(module, "get_model_path", None)
            return Path(getter()) if getter else Path(module.__file__).parent / "model"
        path = Path(self.source).expanduser()
        if path.is_absolute() or self.source.startswith("."):
            return path
        return None


@dataclass(frozen=True)
class Catalog:
    models: dict[str, ModelSpec]
    default: str

    def get(self, name: str | None) -> ModelSpec | None:
        return self.models.get(name or self.default)

    def __iter__(self):
        return iter(self.models.values())

    @classmethod
    def from_config(cls, config) -> Catalog:
        return cls.load(config.catalog or DEFAULT_CATALOG, default=config.default_model)

    @classmethod
    def load(cls, path: Path = DEFAULT_CATALOG, *, default: str | None = None) -> Catalog:
        try:
            data = tomllib.loads(Path(path).read_text())
        except OSError as e:
            raise CatalogError(f"cannot read catalog {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise CatalogError(f"catalog {path} is not valid TOML: {e}") from None
        return cls.parse(data, default=default, origin=str(path))

    @classmethod
    def parse(cls, data: dict, *, default: str | None = None, origin: str = "catalog") -> Catalog:
        entries = data.get("models")
        if not isinstance(entries, list) or not entries:
            raise CatalogError(f"{origin}: needs at least one [[models]] entry")
        models: dict[str, ModelSpec] = {}
        for index, entry in enumerate(entries):
            spec = _spec(entry, f"{origin}: models[{index}]")
            if spec.name in models:
                raise CatalogError(f"{origin}: models[{index}].name: duplicate name {spec.name!r}")
            models[spec.name] = spec
        chosen = default or data.get("default") or next(iter(models))
        if chosen not in models:
            raise CatalogError(f"{origin}: default: {chosen!r} is not a model in the catalog")
        return cls(models=models, default=chosen)


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The manifest of a prepared model directory; ModelNotPrepared when there is none."""
    try:
        return json.loads((Path(model_dir) / MANIFEST).read_text())
    except FileNotFoundError:
        raise ModelNotPrepared(f"no prepared model in {model_dir}") from None


def _spec(entry: object, where: str) -> ModelSpec:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: must be a table")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for key in ("name", "source", "task"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise CatalogError(f"{where}.{key}: required, a non-empty string")
    name = entry["name"]
    where = f"{where} ({name})"
    if not _NAME.match(name):
        raise CatalogError(f"{where}.name: use letters, digits, '.', '_' or '-' (at most 100)")
    if entry["task"] not in TASKS:
        raise CatalogError(f"{where}.task: {entry['task']!r} is not one of {', '.join(sorted(TASKS))}")
    max_length = entry.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise CatalogError(f"{where}.max_length: must be a positive integer")
    return ModelSpec(name=name, source=entry["source"], task=entry["task"], max_length=max_length)
