"""Warm processes for a local run's analysis jobs (``docs/architecture.md#warm-processes``).

An analysis job of a small session computes for about a second, but a fresh Python process
first spends about a second importing numpy, scipy, xarray/pandas and h5py. In a local run the
workflow therefore starts one *warm* process (:func:`start`, from the Snakefile's ``onstart``)
that imports the analysis stack once and then waits on a Unix socket. Each analysis job's
script (:func:`run_in_warm_process`) sends it the job; the warm process forks a child — a copy
of itself with everything already imported — which runs the job exactly as the script would
(same function, same arguments, the job's environment and working directory), writes the
job's log and outputs, and reports back. The job's process waits and fails if the child fails.

The results are those of a job run in its own process: the child runs the same code of the
same interpreter with the same thread settings. A job uses the warm process only when it is
compatible (:func:`compatibility_key`: same interpreter, same package files unchanged since
the warm process started, same BLAS/OpenMP thread variables); otherwise, or when there is no
warm process (cluster jobs, ``warm_processes: false``, a dry run), it runs in its own process
as before. The warm process ends with the run (``onsuccess``/``onerror``) or as soon as the
Snakemake process that started it is gone.

Only the standard library is imported at module level: the job's side of this module must
cost milliseconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["PARENT_ENV", "SOCKET_ENV", "THREAD_VARIABLES", "WarmProcess", "compatibility_key", "run_in_warm_process", "start"]

SOCKET_ENV = "DNN_MANIFOLDS_WARM_SOCKET"
"""Environment variable holding the warm process's socket (inherited by the jobs)."""

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""Thread variables Snakemake sets for every job (to the rule's ``threads``); the libraries
read them when loaded, so the warm process is started with the analysis rules' value and a
job whose values differ does not use it."""

PRELOAD = (
    "numpy",
    "scipy.linalg",
    "scipy.optimize",
    "scipy.special",
    "xarray",
    "netCDF4",
    "dnn_manifolds.data",
    "dnn_manifolds.data.provenance",
    "dnn_manifolds.analysis.capacity",
    "dnn_manifolds.analysis.geometry",
    "dnn_manifolds.analysis.experiments",
    "dnn_manifolds.workflow.jobs",
)
"""What the warm process imports before it serves (what an analysis job imports)."""

PARENT_ENV = "DNN_MANIFOLDS_WARM_PARENT"
"""Set in a warm child's environment to the warm process's pid (the job's log says so)."""

ALLOWED = ("dnn_manifolds.workflow.jobs:run_logged_job",)
"""The functions a job may ask the warm process to run."""

_PACKAGE = Path(__file__).resolve().parents[1]

def _installed() -> list[str]:
    """The distributions installed where the interpreter imports from (their ``*.dist-info``
    folder names carry name and version): an upgrade of numpy, scipy, xarray… changes them."""
    import sysconfig

    names: set[str] = set()
    for key in ("purelib", "platlib"):
        folder = sysconfig.get_paths().get(key)
        with contextlib.suppress(OSError):
            names.update(n for n in os.listdir(folder) if n.endswith((".dist-info", ".egg-info")))
    return sorted(names)


def compatibility_key() -> str:
    """What a job and the warm process must share: the interpreter, the installed
    distributions and their versions, the package's files (path, size and modification time of
    every module) and the thread variables."""
    h = hashlib.sha256()
    for part in (sys.executable, sys.prefix, sys.version, str(_PACKAGE), *_installed()):
        h.update(part.encode() + b"\0")
    for var in THREAD_VARIABLES:
        h.update(f"{var}={os.environ.get(var)}\0".encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(_PACKAGE)}:{st.st_size}:{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------- messages


def _send(sock: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(struct.pack("!Q", len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv(sock: socket.socket) -> Any:
    """The next message, or None when the other side closed the connection."""
    head = _recv_exact(sock, 8)
    if head is None:
        return None
    data = _recv_exact(sock, struct.unpack("!Q", head)[0])
    return None if data is None else pickle.loads(data)


# ----------------------------------------------------------------------------- the job's side


def run_in_warm_process(function: str, kwargs: Mapping[str, Any]) -> dict | None:
    """Run ``function(**kwargs)`` in a child of the warm process; None when there is none to use.

    ``function`` is ``"module:name"``, one of :data:`ALLOWED`. Returns the child's report
    (``{"status": "ok", "cpu_s": …, "max_rss_mb": …}``) once the job has finished; raises
    :class:`RuntimeError` with the child's traceback when the job failed, or when the child
    ended without a report (killed). Returns None — the caller then runs the job itself — when
    no warm process is announced (:data:`SOCKET_ENV`), it cannot be reached, or it is not
    compatible with this process (:func:`compatibility_key`); nothing has run then.
    """
    path = os.environ.get(SOCKET_ENV)
    if not path:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    with sock:
        try:
            _send(sock, {"key": compatibility_key(), "function": function, "kwargs": dict(kwargs), "env": dict(os.environ), "cwd": os.getcwd()})
            accepted = _recv(sock)
        except OSError:
            return None
        if not accepted or accepted.get("status") != "accepted":
            return None  # incompatible, or the warm process is ending: nothing ran
        reply = _recv(sock)
    if reply is None:
        raise RuntimeError(f"the warm process's child {accepted.get('pid')} ended without reporting (killed?); the job failed")
    if reply.get("status") != "ok":
        raise RuntimeError("the job failed in the warm process's child:\n" + str(reply.get("traceback", reply)))
    return reply


# ----------------------------------------------------------------------------- the warm side


def _child(conn: socket.socket, key: str) -> int:
    """Serve one job in a forked child; the exit code of the child."""
    request = _recv(conn)
    if request is None:
        return 0
    if request.get("key") != key or request.get("function") not in ALLOWED:
        _send(conn, {"status": "incompatible"})
        return 0
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ[PARENT_ENV] = str(os.getppid())
    _send(conn, {"status": "accepted", "pid": os.getpid()})

    def watch() -> None:  # the job's process gone (killed, cancelled): stop this job too
        try:
            while conn.recv(1):
                pass
        except OSError:
            pass
        # end now, leaving no partial file: the temporary files of the job's unfinished atomic
        # writes are removed (nothing half-written is renamed into place afterwards)
        from dnn_manifolds.data.files import remove_pending_temporaries

        remove_pending_temporaries()
        os._exit(75)

    threading.Thread(target=watch, daemon=True).start()
    try:
        module, name = request["function"].split(":")
        try:
            getattr(importlib.import_module(module), name)(**request["kwargs"])
        except SystemExit as stop:  # sys.exit(0) succeeds, as it would in the job's own process
            if stop.code not in (None, 0):
                raise
    except BaseException:
        import traceback

        text = traceback.format_exc()
        try:
            sys.stderr.write(text)  # the job's log, when the job had opened it
            sys.stderr.flush()
        finally:
            _send(conn, {"status": "error", "traceback": text})
        return 1
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    report = {"status": "ok", "cpu_s": ru.ru_utime + ru.ru_stime, "max_rss_mb": ru.ru_maxrss / 1024}
    # the job's log (the job configured logging): what its benchmark file cannot see
    logging.getLogger("warm").info("warm child: %.2f s CPU, %.0f MB peak", report["cpu_s"], report["max_rss_mb"])
    for stream in (sys.stdout, sys.stderr):  # os._exit follows: nothing may stay buffered
        stream.flush()
    _send(conn, report)
    return 0


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(path: str, parent_pid: int, preload: Sequence[str] = PRELOAD) -> None:
    """The warm process: import ``preload``, listen on ``path``, fork a child per job.

    Prints ``ready`` on stdout once it listens. Ends when the process ``parent_pid`` is gone
    (checked every second) or on SIGTERM.
    """
    key = compatibility_key()
    for module in preload:
        importlib.import_module(module)
    if compatibility_key() != key:  # files changed while they were imported: serve nothing
        print("the package's files changed while the warm process imported them", file=sys.stderr, flush=True)
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.settimeout(1.0)
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nobody reads the pipe after "ready": the children must never fill it
    os.close(devnull)
    try:
        while os.getppid() == parent_pid:
            _reap()
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            pid = os.fork()
            if pid == 0:  # the child: a copy with everything imported
                code = 1
                try:
                    listener.close()
                    conn.settimeout(None)
                    code = _child(conn, key)
                finally:
                    os._exit(code)
            conn.close()
    finally:
        listener.close()
        with contextlib.suppress(OSError):  # the socket and its private folder
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(path))


class WarmProcess:
    """A running warm process (:func:`start`); :meth:`stop` ends it and removes its socket."""

    def __init__(self, process: subprocess.Popen, directory: str):
        self.process = process
        self.directory = directory
        self.socket = os.path.join(directory, "socket")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if os.environ.get(SOCKET_ENV) == self.socket:
            del os.environ[SOCKET_ENV]
        shutil.rmtree(self.directory, ignore_errors=True)


def start(threads: int = 1, *, log: str | os.PathLike | None = None, timeout: float = 120.0) -> WarmProcess | None:
    """Start a warm process for jobs with ``threads`` threads and announce it to them.

    Sets :data:`SOCKET_ENV` in this process's environment, which the jobs it starts inherit.
    The warm process's own output goes to ``log``. Returns None (and announces nothing) when
    it is not ready within ``timeout`` seconds, and on systems other than Linux (forking a
    process that has loaded the BLAS and HDF5 libraries is only relied on there); jobs then run
    in their own processes.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        return _start(threads, log, timeout)
    except OSError as err:  # no temporary folder, log or process: the jobs run in their own
        logging.getLogger(__name__).warning("no warm process: %s", err)
        return None


def _start(threads: int, log: str | os.PathLike | None, timeout: float) -> WarmProcess | None:
    directory = tempfile.mkdtemp(prefix="dnn-manifolds-warm-")  # private (0700): the socket's folder
    path = os.path.join(directory, "socket")
    env = dict(os.environ)
    env.update({var: str(threads) for var in THREAD_VARIABLES})
    env.pop(SOCKET_ENV, None)
    try:
        if log is not None:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
        err = open(log, "a") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", f"from dnn_manifolds.workflow.warm import serve; serve({path!r}, {os.getpid()})"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
                start_new_session=True,
            )
        finally:
            if log is not None:
                err.close()
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    warm = WarmProcess(process, directory)
    if not _ready(process, timeout):
        warm.stop()
        return None
    os.environ[SOCKET_ENV] = path
    return warm


def _ready(process: subprocess.Popen, timeout: float) -> bool:
    import selectors

    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                return process.stdout.readline().strip() == b"ready"
            if process.poll() is not None:
                return False
    return False
