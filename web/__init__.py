"""The HTTP API (Falcon WSGI). Imports `actors` (to send) and `db`; never torch or onnxruntime."""

from web.app import create_app

__all__ = ["create_app"]
