r"""Chunks of objects over worker processes, with the Gaussian draws made in object order (private).

The per-object geometry (``docs/geometry.md#geometry-performance``) runs chunk by chunk: each
chunk's frames, then its Gaussian draws, then its anchor problems and statistics. The draws of
a chunk have the shapes of its frames (``n_t × (D_μ + 1)``, with ``D_μ`` known only once the
frame is built) and come from one generator in object order, so that the results are those of
a serial run. With ``jobs`` workers the chunks run in forked processes (the data inherited,
not copied); the generator's state travels between them as a token: a worker that has built
its chunk's frames waits for the state left by the previous chunk's draws, makes its own
draws, and passes the new state on before it solves. Only the frames wait for nothing; the
draws, a few milliseconds a chunk, are the only serial step. The results are identical to
``jobs = 1`` bit for bit (each chunk runs the same operations on one BLAS thread).
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait
from typing import Any

import numpy as np

__all__ = ["run_chunks"]


def _serial(n_chunks, prepare, draw, finish, rng) -> Iterator[tuple[int, Any]]:
    for c in range(n_chunks):
        state = prepare(c)
        draws = draw(c, state, rng)
        out = finish(c, state, draws)
        del state, draws
        yield c, out


def _worker(conn, prepare, draw, finish, bit_generator_type) -> None:
    """A worker's loop: chunk index in; "ready"; generator state in; "drawn" with the state
    after the draws; "done" with the chunk's result. ``None`` ends it."""
    rng = np.random.Generator(bit_generator_type())
    c = None
    try:
        while True:
            c = conn.recv()
            if c is None:
                return
            state = prepare(c)
            conn.send(("ready", c))
            rng.bit_generator.state = conn.recv()
            draws = draw(c, state, rng)
            conn.send(("drawn", c, rng.bit_generator.state))
            out = finish(c, state, draws)
            del state, draws
            conn.send(("done", c, out))
    except EOFError:  # the parent has gone or given up: nothing to report to
        return
    except BaseException as exc:  # reported to the parent, which raises it
        text = traceback.format_exc()
        try:
            conn.send(("error", c, exc, text))
        except Exception:  # the exception does not pickle (or the parent has gone)
            try:
                conn.send(("error", c, None, text))
            except Exception:
                pass
    finally:
        conn.close()


def run_chunks(
    n_chunks: int,
    prepare: Callable[[int], Any],
    draw: Callable[[int, Any, np.random.Generator], Any],
    finish: Callable[[int, Any, Any], Any],
    rng: np.random.Generator,
    jobs: int = 1,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(chunk, finish(chunk, state, draws))`` for every chunk, as they complete.

    ``state = prepare(chunk)`` (the frames; it stays in the process that made it),
    ``draws = draw(chunk, state, rng)`` (the only use of ``rng``, made in chunk order whatever
    ``jobs``), then ``finish``, whose result must pickle when ``jobs > 1``. With ``jobs = 1``,
    one chunk, no ``fork`` start method, or in a daemonic process, everything runs here, in
    chunk order. ``rng`` is left in the state of a serial run. A worker's exception is raised here (its traceback
    attached); a worker that dies (killed for memory) raises :class:`RuntimeError`.
    """
    jobs = min(int(jobs), n_chunks)
    if jobs < 2 or "fork" not in multiprocessing.get_all_start_methods() or multiprocessing.current_process().daemon:
        # (a daemonic process, such as a multiprocessing pool's worker, may not have children)
        yield from _serial(n_chunks, prepare, draw, finish, rng)
        return
    ctx = multiprocessing.get_context("fork")
    workers = []
    try:
        for _ in range(jobs):
            here, there = ctx.Pipe()
            proc = ctx.Process(
                target=_worker, args=(there, prepare, draw, finish, type(rng.bit_generator)), daemon=True
            )
            proc.start()
            there.close()
            workers.append((proc, here))
        state = rng.bit_generator.state
        next_chunk = 0  # next chunk to hand out
        next_draw = 0  # chunk whose draws are next
        ready: dict[int, Any] = {}  # chunk → connection of the worker waiting to draw it
        for _, conn in workers:
            conn.send(next_chunk)
            next_chunk += 1
        finished = 0
        live = {conn: proc for proc, conn in workers}
        while finished < n_chunks:
            for conn in wait(list(live)):
                try:
                    msg = conn.recv()
                except EOFError:
                    code = live[conn].exitcode
                    raise RuntimeError(
                        f"a geometry worker process ended unexpectedly (exit code {code}; killed "
                        "for memory?); run with jobs=1 or give the job more memory"
                    ) from None
                kind, c = msg[0], msg[1]
                if kind == "ready":
                    ready[c] = conn
                elif kind == "drawn":
                    state = msg[2]
                    next_draw += 1
                elif kind == "done":
                    finished += 1
                    if next_chunk < n_chunks:
                        conn.send(next_chunk)
                        next_chunk += 1
                    else:
                        conn.send(None)
                        del live[conn]
                    yield c, msg[2]
                else:  # "error"
                    exc, text = msg[2], msg[3]
                    if exc is None:
                        raise RuntimeError(f"geometry worker failed on chunk {c}:\n{text}")
                    exc.add_note(f"(in a geometry worker process, chunk {c})\n{text}")
                    raise exc
                if next_draw in ready:
                    ready.pop(next_draw).send(state)
        rng.bit_generator.state = state
    finally:
        for _, conn in workers:
            conn.close()  # (idempotent)
        for proc, _ in workers:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
