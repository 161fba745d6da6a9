"""The model catalog: named models, their task and source, read from a TOML file.

Light on purpose (stdlib only): the API and the workers both read it.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.errors import CatalogError

DEFAULT_CATALOG = Path(__file__).with_name("catalog.toml")
EMBEDDING_TASKS = ("feature-extraction", "sentence-similarity")  # one encoder serves both
TASKS = frozenset({*EMBEDDING_TASKS, "text-classification", "text-generation"})
QUANTIZATIONS = frozenset({"int8"})
OPTIMIZATIONS = frozenset({"O1", "O2", "O3"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_FIELDS = {"name", "source", "task", "max_length", "quantize", "optimize", "max_batch_size", "max_wait_ms"}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str
    task: str
    max_length: int | None = None  # None: what the model's own configuration says
    quantize: str | None = None  # "int8": dynamic int8 quantization (ORTQuantizer)
    optimize: str | None = None  # "O1".."O3": ORTOptimizer graph optimization level
    max_batch_size: int = 32  # inputs per ONNX run
    max_wait_ms: int = 5  # how long a worker waits for more jobs to fill a batch

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this model serves: an embedding model serves feature-extraction and sentence-similarity."""
        return EMBEDDING_TASKS if self.task in EMBEDDING_TASKS else (self.task,)

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
    for key, allowed in (("quantize", QUANTIZATIONS), ("optimize", OPTIMIZATIONS)):
        if entry.get(key) is not None and entry[key] not in allowed:
            raise CatalogError(f"{where}.{key}: {entry[key]!r} is not one of {', '.join(sorted(allowed))}")
    if entry.get("quantize") and entry.get("optimize"):
        raise CatalogError(f"{where}.optimize: choose quantize or optimize (the quantizer runs its own optimization)")
    for key, maximum in (("max_length", 1_000_000), ("max_batch_size", 1024), ("max_wait_ms", 10_000)):
        value = entry.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= maximum):
            raise CatalogError(f"{where}.{key}: must be a positive integer (at most {maximum})")
    known = {k: entry[k] for k in ("max_length", "quantize", "optimize", "max_batch_size", "max_wait_ms") if k in entry}
    return ModelSpec(name=name, source=entry["source"], task=entry["task"], **known)
