"""A Falcon hello-world on waitress, served exactly as `inference-api serve` serves the API (same
threads, same body limit): the ceiling for ingest. `python -m bench.hello --port P --threads T`.

POST /inference reads the body and answers 202 with a small JSON object; GET /healthz answers 200."""

from __future__ import annotations

import argparse
import signal
import uuid

import falcon
import waitress


class Hello:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.bounded_stream.read()
        resp.status = falcon.HTTP_202
        resp.media = {"id": str(uuid.uuid4()), "status": "queued"}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


def create_app() -> falcon.App:
    app = falcon.App()
    hello = Hello()
    app.add_route("/inference", hello)
    app.add_route("/healthz", hello)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hello")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-body-bytes", type=int, default=1 << 20)
    args = parser.parse_args(argv)
    server = waitress.create_server(
        create_app(),
        host="127.0.0.1",
        port=args.port,
        threads=args.threads,
        max_request_body_size=args.max_body_bytes,
        ident="hello",
    )
    signal.signal(signal.SIGTERM, lambda *_: server.close())
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
