"""Gunicorn settings shared by the Procfile's `web`, `triage serve` and bench/intake.py (read from the cwd).

Flags on the command line (bind, workers, threads) still win; this file holds what the flags cannot say.
"""
import gc


def post_worker_init(worker):  # noqa: ANN001, ANN201, ARG001
    # The app and its imports are loaded by now and live as long as the worker: move them out of the
    # garbage collector's reach, so its full collections walk only what requests allocate.
    gc.freeze()
