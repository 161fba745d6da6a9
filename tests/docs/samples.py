"""Sample outputs as the README and the manual write them, parsed and compared with what a command printed."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from db.lifecycle import STATUSES

VARYING = {"id", "created_at", "started_at", "finished_at", "timestamp"}  # strings that differ on every run

# A sample is JSON with elisions: `...` for more keys or items (`...384 numbers`: a list of that length in
# all), `"1b510b57-..."` for a string that varies, `{...}` and `[...]` for any object or list.


class SampleError(ValueError):
    pass


@dataclass
class Etc:
    total: int | None = None


TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<etc>\.\.\.(?:\s*(?P<total>\d+) \w+)?)'
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(?P<word>true|false|null)|(?P<punct>[{}\[\]:,]))"
)


def parse_sample(lines: list[str]):
    text = " ".join(lines)
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = TOKEN.match(text, position)
        if not match:
            raise SampleError(f"cannot read the sample at {text[position : position + 30]!r}")
        tokens.append(match)
        position = match.end()
    value, end = _value(tokens, 0)
    if end != len(tokens):
        raise SampleError("text after the sample's value")
    return value


def _value(tokens, i):
    if i >= len(tokens):
        raise SampleError("the sample ends early")
    token = tokens[i]
    if token["string"]:
        return json.loads(token["string"]), i + 1
    if token["number"]:
        return json.loads(token["number"]), i + 1
    if token["word"]:
        return json.loads(token["word"]), i + 1
    if token["etc"]:
        return Etc(int(token["total"]) if token["total"] else None), i + 1
    if token["punct"] in "{[":
        closing, items, keyed = ("}", {}, True) if token["punct"] == "{" else ("]", [], False)
        i += 1
        while i < len(tokens) and tokens[i]["punct"] != closing:
            if keyed and tokens[i]["etc"]:
                items[Etc] = Etc()
                i += 1
            elif keyed:
                key, i = _value(tokens, i)
                if i >= len(tokens) or tokens[i]["punct"] != ":":
                    raise SampleError(f"no ':' after {key!r}")
                items[key], i = _value(tokens, i + 1)
            else:
                item, i = _value(tokens, i)
                items.append(item)
            if i < len(tokens) and tokens[i]["punct"] == ",":
                i += 1
        if i >= len(tokens):
            raise SampleError("the sample ends early")
        return items, i + 1
    raise SampleError(f"unexpected {token.group().strip()!r}")


def compare(sample, real, where: str) -> list[str]:
    """Where `real` does not have the shape (and the exact values, where given) of `sample`."""
    key = where.rsplit(".", 1)[-1]
    if isinstance(sample, Etc):
        return []
    if isinstance(sample, dict):
        if not isinstance(real, dict):
            return [f"{where}: {type(real).__name__}, the sample shows an object"]
        problems = [f"{where}: no {k!r}" for k in sample if k is not Etc and k not in real]
        if Etc not in sample and set(real) != set(sample):
            problems.append(f"{where}: has {sorted(set(real) - set(sample))} the sample does not show (or `...`)")
        for k, v in sample.items():
            if k is not Etc and k in real:
                problems += compare(v, real[k], f"{where}.{k}")
        return problems
    if isinstance(sample, list):
        if not isinstance(real, list):
            return [f"{where}: {type(real).__name__}, the sample shows a list"]
        etc = [item for item in sample if isinstance(item, Etc)]
        shown = [item for item in sample if not isinstance(item, Etc)]
        total = etc[0].total if etc else len(sample)
        if total is not None and len(real) != total:
            return [f"{where}: {len(real)} items, the sample shows {total}"]
        if len(real) < len(shown):
            return [f"{where}: {len(real)} items, the sample shows {len(shown)}"]
        problems = []
        for n, item in enumerate(shown):
            problems += compare(item, real[n], f"{where}[{n}]")
        return problems
    if isinstance(sample, bool) or sample is None:
        return [] if real is sample else [f"{where}: {real!r}, the sample says {sample!r}"]
    if isinstance(sample, int):
        if isinstance(real, bool) or not isinstance(real, int):
            return [f"{where}: {real!r}, the sample shows an integer"]
        return [] if real == sample else [f"{where}: {real}, the sample says {sample}"]
    if isinstance(sample, float):
        if not isinstance(real, float):
            return [f"{where}: {real!r}, the sample shows a number with decimals"]
        if "embedding" in where and not math.isclose(real, sample, abs_tol=1e-4):
            return [f"{where}: {real}, the sample says {sample}"]  # a vector's values: the model's own
        return []
    if not isinstance(real, str):
        return [f"{where}: {real!r}, the sample shows a string"]
    if key == "status":
        return [] if real in STATUSES else [f"{where}: {real!r} is not a status"]
    if "..." in sample or key in VARYING:
        return []
    return [] if real == sample else [f"{where}: {real!r}, the sample says {sample!r}"]
