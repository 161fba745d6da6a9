"""Embeddings stored as float32 bytes instead of JSON numbers.

A feature-extraction output is a list of items, each with an `embedding` (a list of floats) and small
fields (`tokens`, `truncated`). `pack` splits it into those small fields (kept as JSON) and every vector,
concatenated as little-endian float32 bytes (a `bytea`): 1.5 KB for 384 dimensions where the JSON took
about 4 KB, and no JSON for PostgreSQL to parse on the write or render on the read (a batch's save is
several times faster than with JSONB). `unpack` puts them back, rounded to 8 decimals as the API always
showed them. An output whose vectors are not float32 values (anything a model computed in float64, say)
is kept as JSON, exactly as given.
"""

from __future__ import annotations

import sys
from array import array
from typing import Any

DECIMALS = 8
# A float32 value times 10**8 is exact in float64 (24 bits of mantissa times 5**8, 19 bits, fit in 53), so
# rounding that product to an integer n rounds the value's exact decimal expansion, half to even, as
# `round(value, 8)` does; n / 10**8 is then the float nearest n * 10**-8, which is what `round` returns.
_SCALE = 10.0**DECIMALS


def pack(output: Any) -> tuple[Any, bytes | None]:
    """(the output without its vectors, the vectors as bytes), or (output, None) when it has none to pack."""
    if not isinstance(output, list) or not output:
        return output, None
    if not all(isinstance(item, dict) and isinstance(item.get("embedding"), list) for item in output):
        return output, None
    dimensions = len(output[0]["embedding"])
    if dimensions == 0 or any(len(item["embedding"]) != dimensions for item in output):
        return output, None
    flat = [value for item in output for value in item["embedding"]]
    try:
        vectors = array("f", flat)
    except TypeError:  # not numbers
        return output, None
    if vectors.tolist() != flat:  # not float32 values: packing would change them
        return output, None
    if sys.byteorder == "big":
        vectors.byteswap()
    rest = [{key: value for key, value in item.items() if key != "embedding"} for item in output]
    return rest, vectors.tobytes()


def unpack(rest: Any, packed: bytes | None) -> Any:
    """The output `pack` split: each item's `embedding` first, then its other fields."""
    if packed is None or not rest:
        return rest
    vectors = array("f")
    vectors.frombytes(packed)
    if sys.byteorder == "big":
        vectors.byteswap()
    dimensions = len(vectors) // len(rest)
    try:  # `round(value, 8)`, three times as fast: exact for float32 values (see `_SCALE`)
        values = [round(value * _SCALE) / _SCALE for value in vectors.tolist()]
    except (OverflowError, ValueError):  # an infinity or a NaN, which the slow way keeps as it is
        values = [round(value, DECIMALS) for value in vectors.tolist()]
    return [{"embedding": values[i * dimensions : (i + 1) * dimensions], **item} for i, item in enumerate(rest)]
