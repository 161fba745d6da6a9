"""The benchmark harness: `python -m bench [--quick | --tiny] [--modes raw,seed,...] [--json FILE]`.

Each mode measures one thing on this machine, in one run, so their ratios mean something:

- raw: ONNX Runtime in-process on the prepared model, batches of the catalog's `max_batch_size`,
  tokenization included, in as many processes as the workers use: the limit. Also `raw_single`.
- seed: the old design, a PyTorch `transformers` pipeline taking one RabbitMQ message at a time and
  inserting a row per result.
- worker: the queue pre-filled with N jobs, then `dramatiq actors.worker` until all N are saved.
- latency: sequential `Prefer: wait` requests at idle, against the API and the workers.
- e2e: concurrent HTTP clients against the API and the workers, until every job is saved.
- ingest: accepted POSTs per second (no workers), beside a Falcon hello-world on the same waitress settings.

The harness uses a database (`inference_api_bench`) and a RabbitMQ vhost (`inference_api_bench`) of its
own, never the shared ones, and stops every process it started. Timing is reported, never asserted.
"""
