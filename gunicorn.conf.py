"""Gunicorn settings shared by the Procfile's `web`, `triage serve` and bench/intake.py (read from the cwd).

Flags on the command line (bind, workers, threads) still win; this file holds what the flags cannot say.
"""
import gc
import os
import shutil
from pathlib import Path


def _metrics_dir() -> str:
    """Where the worker processes keep their Prometheus counters, so any one of them answers /metrics for all.

    Without it each process counts only its own webhooks and every scrape lands on a different process:
    the counters jump back and forth and Prometheus reads each drop as a reset. PROMETHEUS_MULTIPROC_DIR
    wins when set; otherwise a directory per server under VAR_DIR, emptied now (the files of a server
    that stopped would otherwise be counted again).
    """
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        Path(configured).mkdir(parents=True, exist_ok=True)
        return configured
    from app.config import get_settings

    root = Path(get_settings().VAR_DIR) / "metrics"
    for stale in root.glob("gunicorn-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    directory = root / f"gunicorn-{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return str(directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_starting(server):  # noqa: ANN001, ANN201
    # Set in the master before any worker imports prometheus_client: the choice is made at import.
    try:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir()
    except Exception as exc:  # a read-only VAR_DIR, or bad settings (the workers stop with their message)
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gunicorn-metrics-")
        server.log.warning("metrics directory unavailable (%s); using %s", exc, os.environ["PROMETHEUS_MULTIPROC_DIR"])


def post_worker_init(worker):  # noqa: ANN001, ANN201, ARG001
    # The app and its imports are loaded by now and live as long as the worker: move them out of the
    # garbage collector's reach, so its full collections walk only what requests allocate.
    gc.freeze()


def child_exit(server, worker):  # noqa: ANN001, ANN201, ARG001
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ANN001, ANN201, ARG001
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if Path(directory).name.startswith("gunicorn-"):  # ours (under VAR_DIR or a temp dir), not the operator's
        shutil.rmtree(directory, ignore_errors=True)
