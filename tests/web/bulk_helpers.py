"""Multipart bodies for the tests of `/v1/files` and `/v1/batches`, as the `openai` client sends them."""

import json

BOUNDARY = "b0undary-7f3a"


def multipart(content: bytes, *, purpose: str | None = "batch", name: str = "in.jsonl", extra: str = "") -> dict:
    body = b""
    if extra:
        body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{extra}"\r\n\r\nx\r\n'.encode()
    if purpose is not None:
        body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'.encode()
    body += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += content + f"\r\n--{BOUNDARY}--\r\n".encode()
    return {"body": body, "content_type": f"multipart/form-data; boundary={BOUNDARY}"}


def jsonl(lines) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def embedding_lines(texts, *, url="/v1/embeddings", model=None) -> list[dict]:
    body = {} if model is None else {"model": model}
    return [
        {"custom_id": f"req-{i}", "method": "POST", "url": url, "body": {**body, "input": text}}
        for i, text in enumerate(texts)
    ]


def upload(client, content: bytes, *, headers=None, **fields):
    return client.simulate_post("/v1/files", headers=headers, **multipart(content, **fields))
