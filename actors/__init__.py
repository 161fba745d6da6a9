"""The worker side and the way to it: broker setup, the inference actor, batching, the ONNX runtime, worker
middleware, the sweeper and model preparation.

Nothing is imported here, so a sender (the API) loads only what it uses: `actors.sending`. Workers are
assembled by `actors.setup`; the `dramatiq` CLI loads `actors.worker`.
"""
