"""Model preparation: export a catalog entry to ONNX with optimum, offline when the source is local.

The only module that needs torch (the `[export]` extra). It writes `<models_dir>/<name>/` with
model.onnx, tokenizer.json, config.json and manifest.json, atomically (a temporary directory renamed
into place), and does nothing when the model is already prepared.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

from catalog import EMBEDDING_TASKS, MANIFEST, ModelSpec, prepared
from core.errors import InferenceError


class PrepareError(InferenceError):
    title = "Model preparation failed"


def prepare(spec: ModelSpec, models_dir: Path, *, force: bool = False, out=None) -> Path:
    """Prepare `spec` into `models_dir/spec.name`; a no-op when already prepared (unless `force`).

    Progress goes to `out` (standard error by default)."""
    out = out or sys.stderr
    models_dir = Path(models_dir)
    target = models_dir / spec.name
    if prepared(models_dir, spec.name) and not force:
        print(f"{spec.name}: already prepared in {target}", file=out)
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    progress = _Progress(spec.name, steps=4 if spec.quantize or spec.optimize else 3, out=out)
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=models_dir))
    work.chmod(0o755)  # mkdtemp makes it private; readers (other pods, users) need to list it
    try:
        progress.step(f"resolving source {spec.source}")
        source = _resolve_source(spec)
        progress.step(f"exporting {spec.task} to ONNX with optimum (10-60 s)")
        _export(spec, source, work)
        if spec.quantize:
            progress.step("dynamic int8 quantization with ORTQuantizer")
            _quantize(work)
        elif spec.optimize:
            progress.step(f"graph optimization {spec.optimize} with ORTOptimizer")
            _optimize(work, spec.optimize)
        progress.step("writing the manifest")
        (work / MANIFEST).write_text(json.dumps(_manifest(spec, source, work), indent=2) + "\n")
        _publish(work, target, force=force)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    progress.done(target)
    return target


class _Progress:
    def __init__(self, name: str, *, steps: int, out):
        self.name, self.steps, self.out = name, steps, out
        self.current, self.started = 0, time.monotonic()

    def step(self, what: str) -> None:
        self.current += 1
        bar = "#" * self.current + "." * (self.steps - self.current)
        print(f"{self.name}: [{bar}] {self.current}/{self.steps} {what}", file=self.out, flush=True)

    def done(self, target: Path) -> None:
        elapsed = time.monotonic() - self.started
        print(f"{self.name}: prepared in {elapsed:.1f} s -> {target}", file=self.out, flush=True)


def _resolve_source(spec: ModelSpec) -> Path:
    path = spec.source_path()
    if path is not None:
        if not (path / "config.json").is_file():
            raise PrepareError(f"model {spec.name!r}: source {path} is not a model directory (no config.json)")
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec.source, allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model"]))
    except Exception as e:  # the hub client raises many types; all mean "could not fetch"
        raise PrepareError(
            f"model {spec.name!r}: cannot fetch {spec.source!r} from the Hugging Face hub "
            f"({type(e).__name__}: {e}). Set source to a local directory, or prepare where the hub is reachable."
        ) from None


EXPORT_TASKS = {
    "feature-extraction": "feature-extraction",
    "sentence-similarity": "feature-extraction",
    "text-classification": "text-classification",
    "text-generation": "text-generation-with-past",  # a decoder with its KV cache as inputs and outputs
}


def _export(spec: ModelSpec, source: Path, work: Path) -> None:
    try:
        from optimum.exporters.onnx import main_export
        from transformers.utils import logging as hf_logging
    except ImportError as e:
        raise PrepareError(f"preparing models needs the [export] extra ({e}): pip install '.[export]'") from None

    hf_logging.set_verbosity_error()
    with warnings.catch_warnings(), _quiet_loggers():
        warnings.simplefilter("ignore")
        main_export(
            str(source),
            output=work,
            task=EXPORT_TASKS[spec.task],
            library_name="transformers",  # plain encoder output; pooling is ours, from the ST config
            do_validation=False,
            local_files_only=True,
        )


def _optimize(work: Path, level: str) -> None:
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import AutoOptimizationConfig

    with warnings.catch_warnings(), _quiet_loggers():
        warnings.simplefilter("ignore")
        optimizer = ORTOptimizer.from_pretrained(work)
        optimizer.optimize(AutoOptimizationConfig.with_optimization_level(level), work / "optimized", file_suffix=None)
    _replace_model(work, work / "optimized")


def _quantize(work: Path) -> None:
    """Dynamic int8 (per-channel weights) of the weight MatMuls and the embedding tables, except the
    products that cost the most accuracy.

    Left in fp32: activation-by-activation products (attention scores), whose ranges are unknown ahead
    of time, and down-projections (the feed-forward output, wider in than out), where outliers after
    GELU concentrate. Quantizing every MatMul costs too much cosine to sentence-transformers; quantizing the
    embedding tables (Gather) halves the file and shrinks the worker for little (docs/performance.md).
    """
    import onnx
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    graph = onnx.load(str(work / "model.onnx"), load_external_data=False).graph
    weights = {init.name: tuple(init.dims) for init in graph.initializer}
    excluded = []
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        shapes = [weights[i] for i in node.input if i in weights]
        if not shapes or (len(shapes[0]) == 2 and shapes[0][0] > shapes[0][1]):
            excluded.append(node.name)
    config = AutoQuantizationConfig.avx2(
        is_static=False, per_channel=True, operators_to_quantize=["MatMul", "Gather"], nodes_to_exclude=excluded
    )
    with warnings.catch_warnings(), _quiet_loggers():
        warnings.simplefilter("ignore")
        ORTQuantizer.from_pretrained(work).quantize(config, work / "quantized", file_suffix=None)
    _replace_model(work, work / "quantized")


def _replace_model(work: Path, produced: Path) -> None:
    os.replace(produced / "model.onnx", work / "model.onnx")
    shutil.rmtree(produced)


@contextlib.contextmanager
def _quiet_loggers():
    names = ("", "optimum", "transformers", "torch")  # "": onnxruntime's quantizer logs on the root logger
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def sentence_transformers_config(source: Path) -> dict[str, Any]:
    """Pooling mode, normalization and max sequence length as sentence-transformers would apply them."""
    result: dict[str, Any] = {"pooling": "mean", "normalize": False, "max_seq_length": None}
    modules = _read_json(source / "modules.json") or []
    for module in modules:
        kind = module.get("type", "")
        if kind.endswith(".Pooling"):
            result["pooling"] = _pooling_mode(_read_json(source / module.get("path", "") / "config.json") or {})
        elif kind.endswith(".Normalize"):
            result["normalize"] = True
    bert_config = _read_json(source / "sentence_bert_config.json") or {}
    result["max_seq_length"] = bert_config.get("max_seq_length")
    return result


def _pooling_mode(config: dict[str, Any]) -> str:
    if isinstance(config.get("pooling_mode"), str):
        mode = config["pooling_mode"]
    else:
        flags = {
            "cls": config.get("pooling_mode_cls_token"),
            "max": config.get("pooling_mode_max_tokens"),
            "mean_sqrt_len": config.get("pooling_mode_mean_sqrt_len_tokens"),
            "mean": config.get("pooling_mode_mean_tokens"),
        }
        chosen = [mode for mode, on in flags.items() if on]
        if len(chosen) > 1:
            raise PrepareError(f"pooling combines {chosen}; only one pooling mode is supported")
        mode = chosen[0] if chosen else "mean"
    if mode not in ("cls", "max", "mean", "mean_sqrt_len"):
        raise PrepareError(f"pooling mode {mode!r} is not supported")
    return mode


def _manifest(spec: ModelSpec, source: Path, work: Path) -> dict[str, Any]:
    config = _read_json(work / "config.json") or {}
    positions = config.get("max_position_embeddings") or config.get("n_positions")
    manifest: dict[str, Any] = {"name": spec.name, "source": spec.source, "task": spec.task, "onnx": "model.onnx"}
    if spec.task in EMBEDDING_TASKS:
        st = sentence_transformers_config(source)
        tokenizer_max = (_read_json(source / "tokenizer_config.json") or {}).get("model_max_length")
        limits = [n for n in (positions, tokenizer_max) if isinstance(n, int) and n < 1_000_000]
        manifest.update(
            max_length=spec.max_length or st["max_seq_length"] or min(limits, default=512),
            pooling=st["pooling"],
            normalize=st["normalize"],
            dimensions=config.get("hidden_size"),
        )
    elif spec.task == "text-classification":
        id2label = config.get("id2label") or {}
        count = len(id2label) or config.get("num_labels", 2)
        manifest.update(
            max_length=spec.max_length or positions or 512,
            labels=[id2label.get(str(i), id2label.get(i, f"LABEL_{i}")) for i in range(count)],
            problem_type=config.get("problem_type") or "single_label_classification",
        )
    else:
        generation = _read_json(work / "generation_config.json") or {}
        eos = generation.get("eos_token_id", config.get("eos_token_id"))
        manifest.update(
            max_length=spec.max_length or positions or 1024,
            eos_token_id=eos[0] if isinstance(eos, list) else eos,
            vocab_size=config.get("vocab_size"),
        )
    manifest.update(
        quantization="int8-dynamic-per-channel" if spec.quantize else None,
        optimization=spec.optimize,
        files={p.name: _sha256(p) for p in sorted(work.iterdir()) if p.is_file()},
        versions={pkg: _version(pkg) for pkg in ("optimum", "optimum-onnx", "onnxruntime", "transformers", "torch")},
        prepared_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _publish(work: Path, target: Path, *, force: bool) -> None:
    if target.exists() and (force or not (target / MANIFEST).is_file()):
        stale = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, stale)  # an incomplete or replaced copy: move aside, then drop
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(work, target)
    except OSError:
        if not (target / MANIFEST).is_file():
            raise
        shutil.rmtree(work, ignore_errors=True)  # another process prepared it meanwhile: keep theirs
