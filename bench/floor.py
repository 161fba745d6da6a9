"""The floor of a waited call on this stack: the durable path with none of the service's code.

`latency` measures the service; this measures the same path built from the same parts and nothing else, so the
two can be read side by side in each repeat. Its API is Falcon on waitress (the service's threads): it parses
the body, inserts one row (psycopg2) and commits it without waiting for the disk, as the service commits the
row of a request that waits (the save's synchronous commit flushes it before the answer), publishes the job's
id with a broker confirmation (pika), and waits for the notification that carries the finished row. Its worker
consumes the message (pika), claims the row (an `UPDATE ... RETURNING` of its inputs, committed without
waiting for the disk, as the service's claim is), runs the same prepared model on the inputs, and saves the
vector with its model time in one statement that notifies the row (committed durably). The answer is the row
in JSON with the vector as floats and the moments the job was created, started and finished, stamped where the
service stamps its job's, so the floor's stages read as the service's do. No validation, metrics, logs,
limits, batching or retries: whatever the service spends over this floor is its own.
`python -m bench.floor api|worker DATABASE_URL BROKER_URL [--port P --threads T | --model-dir D]`.
"""

from __future__ import annotations

import argparse
import select
import signal
import sys
import threading
import time
import uuid

import orjson

from bench.infra import FLOOR_QUEUE as QUEUE
from bench.infra import FLOOR_TABLE as TABLE

CHANNEL = "bench_floor"
WAIT_SECONDS = 60.0  # the first calls wait for the worker to load its model
# `created`, `started` and `finished` are stamped (`time.time()`) where the service stamps its job's: before the
# insert, before the claim, after the model; the answer carries them, so the floor's stages are measured as the
# service's are (`bench.latency.breakdown`)
CREATE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (id uuid PRIMARY KEY, inputs jsonb, status text, vector bytea,
inference_ms float8, created float8, started float8, finished float8)"""
UNSYNCHRONIZED = "SET LOCAL synchronous_commit TO OFF;\n"  # this statement's transaction only (autocommit)
INSERT = UNSYNCHRONIZED + f"INSERT INTO {TABLE} (id, inputs, status, created) VALUES (%s, %s, 'queued', %s)"
CLAIM = UNSYNCHRONIZED + f"UPDATE {TABLE} SET status = 'running' WHERE id = %s AND status = 'queued' RETURNING inputs"
SAVE = f"""WITH done AS (
UPDATE {TABLE} SET status = 'succeeded', vector = %s, inference_ms = %s, started = %s, finished = %s WHERE id = %s
RETURNING *)
SELECT pg_notify('{CHANNEL}', id::text || ' ' || row_to_json(done)::text) FROM done"""


def connect(database_url: str):
    import psycopg2

    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    return connection


def channel(broker_url: str):
    import pika

    parameters = pika.URLParameters(broker_url)
    parameters.heartbeat = 0  # idle for minutes between rounds, with no thread to answer heartbeats
    broker = pika.BlockingConnection(parameters)
    opened = broker.channel()
    opened.queue_declare(QUEUE, durable=True)
    return opened


class Finished:
    """The API's listener: one connection LISTENing, each notification handed to the request waiting for it."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.waiting: dict[str, list] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self.listen, daemon=True).start()

    def expect(self, job_id: str) -> list:
        slot = [threading.Event(), None]
        with self.lock:
            self.waiting[job_id] = slot
        return slot

    def listen(self) -> None:
        listener = connect(self.database_url)
        listener.cursor().execute(f"LISTEN {CHANNEL}")
        while True:
            select.select([listener], [], [], 5.0)
            listener.poll()
            while listener.notifies:
                job_id, _, row = listener.notifies.pop(0).payload.partition(" ")
                with self.lock:
                    slot = self.waiting.pop(job_id, None)
                if slot is not None:
                    slot[1] = row
                    slot[0].set()


def app(database_url: str, broker_url: str):
    import falcon
    import numpy as np
    import pika

    database, broker, finished = connect(database_url), channel(broker_url), Finished(database_url)
    database.cursor().execute(CREATE)
    broker.confirm_delivery()
    turn = threading.Lock()  # one connection each, shared by the request threads

    class Calls:
        def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
            text = orjson.loads(req.bounded_stream.read())["inputs"]
            job_id = str(uuid.uuid4())
            slot = finished.expect(job_id)
            with turn:
                database.cursor().execute(INSERT, (job_id, orjson.dumps([text]).decode(), time.time()))
                broker.basic_publish("", QUEUE, job_id.encode(), pika.BasicProperties(delivery_mode=2))
            if not slot[0].wait(WAIT_SECONDS):
                raise falcon.HTTPServiceUnavailable(description="the floor's worker did not answer")
            row = orjson.loads(slot[1])
            row["vector"] = np.frombuffer(bytes.fromhex(row["vector"][2:]), dtype=np.float32).tolist()
            resp.data, resp.content_type = orjson.dumps(row), falcon.MEDIA_JSON

        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.media = {"status": "ok"}

    served = falcon.App()
    served.add_route("/inference", Calls())
    served.add_route("/healthz", Calls())
    return served


def work(database_url: str, broker_url: str, model_dir: str) -> None:
    import numpy as np
    import psycopg2

    from actors import runtime
    from catalog.manifest import read_manifest

    task = read_manifest(model_dir)["task"]
    model = runtime.load(model_dir, intra_op_threads=1)
    model(["a first run allocates"], task=task)
    cursor, broker = connect(database_url).cursor(), channel(broker_url)
    broker.basic_qos(prefetch_count=1)

    def run(ch, method, properties, body: bytes) -> None:
        started = time.time()
        cursor.execute(CLAIM, (body.decode(),))
        claimed = cursor.fetchone()
        if claimed is not None:
            running = time.perf_counter()
            [output] = model(claimed[0], task=task)
            model_ms = (time.perf_counter() - running) * 1000
            finished = time.time()
            vector = np.asarray(output["embedding"], dtype=np.float32).tobytes()
            cursor.execute(SAVE, (psycopg2.Binary(vector), model_ms, started, finished, body.decode()))
        ch.basic_ack(method.delivery_tag)

    broker.basic_consume(QUEUE, run)
    broker.start_consuming()


def main(argv: list[str] | None = None) -> None:
    import waitress

    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("role", choices=("api", "worker"))
    parser.add_argument("database_url")
    parser.add_argument("broker_url")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--model-dir")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.role == "worker":
        work(args.database_url, args.broker_url, args.model_dir)
        return
    served = app(args.database_url, args.broker_url)
    waitress.create_server(served, host="127.0.0.1", port=args.port, threads=args.threads, ident="floor").run()


if __name__ == "__main__":
    main()
