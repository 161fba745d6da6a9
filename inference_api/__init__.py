"""Inference API: asynchronous ONNX inference over HTTP, a broker and a database.

This package is the composition root: configuration, the error tree and the command line.
`db`, `actors` and `web` are the layers (web -> actors -> db).
"""

__version__ = "0.1.0"
