"""Gunicorn settings shared by the Procfile's `web`, `triage serve` and bench/intake.py (read from the cwd).

Flags on the command line (bind, workers, threads) still win; this file holds what the flags cannot say.
"""
import gc
import sys


def post_fork(server, worker):  # noqa: ANN001, ANN201, ARG001
    # A gthread worker's request threads hand the GIL to each other around every socket and SQLite call.
    # CPython lets a thread that wants the GIL back wait up to 5 ms by default; at 0.5 ms a webhook that
    # finished its INSERT gets to answer instead of queueing behind other threads' parsing. Measured with
    # bench/intake.py on 2 cores: ~2,700 -> ~3,800 webhooks/s, p99 lower (the bare endpoint moves little).
    sys.setswitchinterval(0.0005)


def post_worker_init(worker):  # noqa: ANN001, ANN201, ARG001
    # The app and its imports are loaded by now and live as long as the worker: move them out of the
    # garbage collector's reach, so its full collections walk only what requests allocate.
    gc.freeze()
