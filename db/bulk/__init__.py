"""Bulk work: uploaded files (`files`: a file row and its content in chunks) and batches (`batches`: a
batch, its input lines as requests, and the jobs those requests become). Imports only `db` and `core`."""

from db.bulk.batches import Batch, BatchRequest, BatchStatus
from db.bulk.files import File, FileChunk

__all__ = ["Batch", "BatchRequest", "BatchStatus", "File", "FileChunk"]
