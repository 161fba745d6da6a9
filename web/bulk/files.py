"""`/v1/files`: upload, list, read, download and delete files, as OpenAI's Files API (`purpose=batch`).

An upload is read from the multipart stream a piece at a time and stored in chunks as it arrives
(`db.bulk.files`), never whole in memory; its size and line count are checked on the way, and an upload
refused half-way leaves nothing behind. A download streams the chunks back one at a time. A file belongs to
the API key that uploaded it: another key gets 404, as for jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import falcon

from core.config import MAX_UPLOAD_BYTES
from db import database
from db.bulk import File, FileChunk
from db.bulk.files import new_file_id, read_chunks, write_chunks
from web.auth import owner_of
from web.bulk.listing import page
from web.openai_errors import invalid

PURPOSES = ("batch",)
MAX_FILE_BYTES = MAX_UPLOAD_BYTES  # OpenAI's limit for a batch input file
MAX_LINES = 50_000  # requests in one batch, as OpenAI
READ_BYTES = 64 * 1024  # read from the request stream at a time
CONTENT_TYPE = "application/octet-stream"  # a file's content is given back as it was uploaded


class TooLarge(Exception):
    pass


def unix(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.replace(tzinfo=dt.UTC).timestamp())


def file_view(row: File) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "file",
        "bytes": row.bytes,
        "created_at": unix(row.created_at),
        "filename": row.filename,
        "purpose": row.purpose,
        "status": "processed",
        "status_details": None,
    }


def not_found(file_id: str) -> falcon.HTTPError:
    error = falcon.HTTPNotFound(title="Not found", description=f"no file {file_id!r}", code="file_not_found")
    error.field = "file_id"
    return error


class _Counter:
    """Counts bytes and lines of the pieces going through it; raises `TooLarge` past the limits."""

    def __init__(self, stream, max_bytes: int, max_lines: int):
        self.stream, self.max_bytes, self.max_lines = stream, max_bytes, max_lines
        self.bytes = self.lines = 0
        self.last = b"\n"

    def __iter__(self) -> Iterator[bytes]:
        while piece := self.stream.read(READ_BYTES):
            self.bytes += len(piece)
            self.lines += piece.count(b"\n")
            self.last = piece[-1:]
            if self.bytes > self.max_bytes:
                raise TooLarge(f"the file is larger than {self.max_bytes} bytes")
            if self.lines > self.max_lines:
                raise TooLarge(f"the file has more than {self.max_lines} lines")
            yield piece

    def total_lines(self) -> int:
        lines = self.lines + (self.last != b"\n")  # a last line without its line end
        if lines > self.max_lines:
            raise TooLarge(f"the file has more than {self.max_lines} lines")
        return lines


class Files:
    def __init__(self, *, max_bytes: int = MAX_FILE_BYTES, max_lines: int = MAX_LINES):
        self.max_bytes, self.max_lines = max_bytes, max_lines

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not (req.content_type or "").lower().startswith("multipart/form-data"):
            raise falcon.HTTPUnsupportedMediaType(
                title="Unsupported media type",
                description="send the file as multipart/form-data, with the fields `purpose` and `file`",
            )
        if req.content_length is not None and req.content_length > self.max_bytes + READ_BYTES:
            raise _too_large(f"the file is larger than {self.max_bytes} bytes")
        purpose, stored = None, None
        file_id = new_file_id()
        try:
            for part in req.get_media():
                if part.name == "purpose":
                    purpose = part.get_text()
                elif part.name == "file" and stored is None:
                    counter = _Counter(part.stream, self.max_bytes, self.max_lines)
                    write_chunks(file_id, counter)
                    stored = (part.filename or "upload.jsonl", counter.bytes, counter.total_lines())
                else:
                    raise invalid(f"unknown field `{part.name}`: send `purpose` and `file`", part.name)
            if purpose not in PURPOSES:
                raise invalid(f"`purpose` must be one of {', '.join(PURPOSES)}", "purpose")
            if stored is None:
                raise invalid("no `file` field: send the file as the multipart field `file`", "file")
            name, size, lines = stored
            if size == 0:
                raise invalid("the file is empty", "file")
            row = File.create(
                id=file_id, owner=owner_of(req), purpose=purpose, filename=name[:255], bytes=size, lines=lines
            )
        except TooLarge as e:
            _drop(file_id)
            raise _too_large(str(e)) from None
        except BaseException:
            _drop(file_id)
            raise
        resp.media = file_view(row)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        purpose = req.get_param("purpose")
        resp.media = page(File, owner_of(req), req, file_view, None if purpose is None else File.purpose == purpose)

    def on_get_file(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        resp.media = file_view(self._find(req, file_id))

    def on_delete_file(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        row = self._find(req, file_id)
        row.remove()
        resp.media = {"id": row.id, "object": "file", "deleted": True}

    def on_get_content(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        row = self._find(req, file_id)
        resp.content_type = CONTENT_TYPE
        resp.content_length = row.bytes
        resp.stream = _streamed(row.id)

    @staticmethod
    def _find(req: falcon.Request, file_id: str) -> File:
        row = File.find(file_id, owner_of(req))
        if row is None:
            raise not_found(file_id)
        return row


def _streamed(file_id: str) -> Iterator[bytes]:
    """The content, chunk by chunk, on a connection of its own: the server sends it after the request's
    middleware returned the request's connection."""
    with database.connection_context():
        yield from read_chunks(file_id)


def _drop(file_id: str) -> None:
    FileChunk.delete().where(FileChunk.file == file_id).execute()


def _too_large(message: str) -> falcon.HTTPError:
    return falcon.HTTPContentTooLarge(title="File too large", description=message, code="file_too_large")
