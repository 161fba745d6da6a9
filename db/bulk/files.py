"""Files as OpenAI's Files API keeps them: a `file` row (name, purpose, size, owner) and its content as
`file_chunk` rows of at most `CHUNK_BYTES` each, so neither an upload nor a download ever holds the whole
file in memory: both go chunk by chunk (`write_chunks`, `read_chunks`).

A file's row is written after its last chunk: a file is listed only once it is whole, and an upload cut
short leaves chunks without a row, which `drop_orphans` removes (the purge runs it)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Iterator

import peewee

from core.owners import OPEN
from db.base import BaseModel, utcnow
from db.connection import database

CHUNK_BYTES = 1 << 20  # 1 MiB a row: small enough to stream, large enough that a 200 MB file is 200 rows


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


class File(BaseModel):
    id = peewee.CharField(max_length=40, primary_key=True)
    owner = peewee.CharField(max_length=32, default=OPEN)
    purpose = peewee.CharField(max_length=32)
    filename = peewee.CharField(max_length=255)
    bytes = peewee.BigIntegerField(default=0)
    lines = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "file"
        indexes = ((("owner", "created_at", "id"), False),)

    @classmethod
    def find(cls, file_id: str, owner: str) -> File | None:
        return cls.get_or_none((cls.id == file_id) & (cls.owner == owner))

    def remove(self) -> None:
        """The file and its content, in one transaction."""
        with database.atomic():
            FileChunk.delete().where(FileChunk.file == self.id).execute()
            type(self).delete().where(type(self).id == self.id).execute()


class FileChunk(BaseModel):
    file = peewee.CharField(max_length=40)  # not a foreign key: chunks are written before their file's row
    seq = peewee.IntegerField()
    data = peewee.BlobField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "file_chunk"
        indexes = ((("file", "seq"), True),)


def write_chunks(file_id: str, pieces: Iterable[bytes], *, start: int = 0) -> int:
    """Store `pieces` (bytes of any size) as the chunks of `file_id` from sequence number `start`, each
    chunk committed as it fills; returns the next sequence number."""
    seq, buffer = start, bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= CHUNK_BYTES:
            FileChunk.insert(file=file_id, seq=seq, data=bytes(buffer[:CHUNK_BYTES])).execute()
            del buffer[:CHUNK_BYTES]
            seq += 1
    if buffer:
        FileChunk.insert(file=file_id, seq=seq, data=bytes(buffer)).execute()
        seq += 1
    return seq


class ChunkWriter:
    """Content written piece by piece, stored a chunk at a time as it fills: `close` stores the rest."""

    def __init__(self, file_id: str):
        self.file_id, self.bytes, self.lines = file_id, 0, 0
        self._seq, self._buffer = 0, bytearray()

    def write(self, piece: bytes) -> None:
        self.bytes += len(piece)
        self.lines += piece.count(b"\n")
        self._buffer += piece
        if len(self._buffer) >= CHUNK_BYTES:
            self._seq = write_chunks(self.file_id, [bytes(self._buffer)], start=self._seq)
            self._buffer.clear()

    def close(self) -> None:
        if self._buffer:
            self._seq = write_chunks(self.file_id, [bytes(self._buffer)], start=self._seq)
            self._buffer.clear()


def read_chunks(file_id: str) -> Iterator[bytes]:
    """The content of `file_id`, one chunk at a time (one query a chunk: only one is ever in memory)."""
    seq = 0
    while True:
        row = FileChunk.get_or_none((FileChunk.file == file_id) & (FileChunk.seq == seq))
        if row is None:
            return
        yield bytes(row.data)
        seq += 1


def read_lines(file_id: str) -> Iterator[bytes]:
    """The lines of `file_id` (without their line ends), read chunk by chunk."""
    rest = b""
    for chunk in read_chunks(file_id):
        rest += chunk
        *lines, rest = rest.split(b"\n")
        yield from lines
    if rest:
        yield rest


def drop_orphans(older_than: dt.datetime) -> int:
    """Remove chunks written before `older_than` whose file has no row: uploads cut short (an upload still
    under way writes its row after its last chunk, so only old chunks are taken)."""
    rowless = FileChunk.file.not_in(File.select(File.id))
    orphans = FileChunk.select(FileChunk.file).where(rowless & (FileChunk.created_at < older_than)).distinct()
    ids = [row.file for row in orphans]
    return FileChunk.delete().where(FileChunk.file.in_(ids)).execute() if ids else 0
