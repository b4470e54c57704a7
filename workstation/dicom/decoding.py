"""Decoding compressed pixel data: the fastest installed pydicom decoder plugin per transfer syntax,
and a pool of worker processes so that every core decodes.

pydicom 3 tries its decoder plugins in registration order (gdcm, then pylibjpeg, ...), so each call
names the plugin measured fastest here (512 x 512 16-bit CT, one frame, one core, this project's VM;
``pixel_array(file, decoding_plugin=...)``):

* JPEG-LS: ``pyjpegls`` (CharLS) 5.6 ms, ``gdcm`` 7.5 ms, ``pylibjpeg`` (libjpeg) 21 ms;
* JPEG 2000: ``gdcm`` 21.6 ms, ``pylibjpeg`` (openjpeg) 28.5 ms, ``pillow`` 29 ms;
* JPEG Lossless (and the other JPEG processes): ``gdcm`` 6.5 ms, ``pylibjpeg`` (libjpeg) 10.2 ms;
* RLE: ``pylibjpeg`` (pylibjpeg-rle) 0.8 ms against pydicom's own 3.7 ms.

The next plugin in a list is used when the first is not installed.

Neither CharLS nor openjpeg releases the GIL (measured: CharLS 6.1 ms a frame with one thread,
6.1 ms with two; openjpeg 26.6 and 29.9 ms; GDCM's bindings are treated alike), so frames of the
slow syntaxes are decoded in worker *processes* (:func:`decode_pool`, spawned once, kept for
later loads); the decoded stored values come back as arrays and are rescaled by the caller.
Everything goes through pydicom's public pixel API (``pixel_array`` / ``iter_pixels`` with
``decoding_plugin``), so its corrections (JPEG-LS/J2K signedness, bit depth) apply unchanged.
"""
from __future__ import annotations

import atexit
import io
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import numpy as np
import pydicom
from pydicom import uid as _uid
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import get_decoder  # re-exported by pydicom.pixels (public API)
from pydicom.pixels.utils import iter_pixels, pixel_array

from .quiet import quietly

log = logging.getLogger(__name__)

#: preferred pydicom decoding plugins per transfer syntax, best first (figures in the module docstring)
_JPEG = ("gdcm", "pylibjpeg")
PREFERRED_PLUGINS: dict[str, tuple[str, ...]] = {
    _uid.JPEGLSLossless: ("pyjpegls", "gdcm"), _uid.JPEGLSNearLossless: ("pyjpegls", "gdcm"),
    _uid.JPEG2000Lossless: ("gdcm", "pylibjpeg"), _uid.JPEG2000: ("gdcm", "pylibjpeg"),
    _uid.RLELossless: ("pylibjpeg",),
    _uid.JPEGBaseline8Bit: _JPEG, _uid.JPEGExtended12Bit: _JPEG,
    _uid.JPEGLossless: _JPEG, _uid.JPEGLosslessSV1: _JPEG,
}

#: in a worker process (one frame at a time, one process per core) the plugin with the least CPU a
#: frame wins, not the lowest wall time: GDCM's JPEG 2000 decoder runs OpenJPEG on every core
#: (17 ms wall but 30 ms CPU a frame), so two such workers on two cores contend, while
#: pylibjpeg-openjpeg is single-threaded (27 ms CPU): 150 frames 2.47 -> 2.26 s (SimpleITK 2.57 s,
#: benchmarks/load.py, same run)
WORKER_PLUGINS: dict[str, tuple[str, ...]] = {
    _uid.JPEG2000Lossless: ("pylibjpeg", "gdcm"), _uid.JPEG2000: ("pylibjpeg", "gdcm"),
}

#: syntaxes slow enough per frame (> 5 ms) that a worker process pays for moving the result back
#: (~0.5 ms for 512 x 512 x 16 bit); RLE (0.8 ms) is decoded in the reading threads instead
POOLED_SYNTAXES = frozenset({
    _uid.JPEGLSLossless, _uid.JPEGLSNearLossless, _uid.JPEG2000Lossless, _uid.JPEG2000,
    _uid.JPEGBaseline8Bit, _uid.JPEGExtended12Bit, _uid.JPEGLossless, _uid.JPEGLosslessSV1,
})

#: transfer syntaxes whose file layout ``pixel_array(file)`` cannot read (deflated data set)
_DATASET_ONLY = {_uid.DeflatedExplicitVRLittleEndian}

_plugin_cache: dict[str, str] = {}
_pool: DecodePool | None = None
_pool_lock = threading.Lock()


def decoding_plugin(transfer_syntax: str | None) -> str:
    """The preferred installed plugin for ``transfer_syntax``; "" lets pydicom choose."""
    ts = transfer_syntax or ""
    if ts not in _plugin_cache:
        wanted = PREFERRED_PLUGINS.get(ts, ())
        try:
            available = get_decoder(_uid.UID(ts)).available_plugins if wanted else ()
        except Exception:  # no decoder at all for this syntax: pydicom says why when decoding
            available = ()
        _plugin_cache[ts] = next((p for p in wanted if p in available), "")
    return _plugin_cache[ts]


def prefer_throughput() -> None:
    """Called by a worker process: choose plugins by CPU a frame (:data:`WORKER_PLUGINS`)."""
    PREFERRED_PLUGINS.update(WORKER_PLUGINS)
    _plugin_cache.clear()


def decode_frames(src: str | bytes, indices: list[int] | None,
                  transfer_syntax: str | None) -> list[np.ndarray]:
    """Stored values of the frames ``indices`` (None: the single frame) of one DICOM file, given
    by path or as bytes; no modality LUT. Runs in a worker process or in the caller."""
    plugin = decoding_plugin(transfer_syntax)
    with io.BytesIO(src) if isinstance(src, bytes) else open(src, "rb") as fp:  # noqa: SIM115
        return _decode(fp, indices, transfer_syntax, plugin)


def _decode(fp: BinaryIO, indices: list[int] | None, transfer_syntax: str | None,
            plugin: str) -> list[np.ndarray]:
    src: BinaryIO | Dataset = fp
    if transfer_syntax is None or transfer_syntax in _DATASET_ONLY:
        src = pydicom.dcmread(fp, force=True)  # no file meta, or a deflated data set
    if indices is None:
        return [pixel_array(src, decoding_plugin=plugin)]
    if len(indices) == 1:
        return [pixel_array(src, index=indices[0], decoding_plugin=plugin)]
    return list(iter_pixels(src, indices=indices, decoding_plugin=plugin))


def pool_size() -> int:
    """Worker processes: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def use_pool(transfer_syntax: str | None, n_frames: int) -> bool:
    """Whether frames of this syntax are worth sending to worker processes."""
    return transfer_syntax in POOLED_SYNTAXES and n_frames >= 4 and pool_size() > 1


class _Worker:
    """One decoding process (``python -m workstation.dicom.decode_worker``) and its pipes; it
    answers ``("ready", None)`` once its imports are done, then one reply per job.

    A plain subprocess rather than ``multiprocessing``: spawned workers of ``multiprocessing``
    re-import the caller's main script, which breaks any script that calls the loader without an
    ``if __name__ == "__main__"`` guard; and forking a process that runs Qt threads is unsafe."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "workstation.dicom.decode_worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        if pickle.load(self.proc.stdout) != ("ready", None):
            raise RuntimeError("decoding process did not start")

    def call(self, src: str, indices: list[int] | None, transfer_syntax: str | None) -> list[np.ndarray]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        pickle.dump((src, indices, transfer_syntax), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()
        ok, value = pickle.load(self.proc.stdout)
        if not ok:
            raise DecodeFailed(value)
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # the worker ends at end of input
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class _InProcess:
    """Decodes in the calling process, while no decoding process has started yet (their start-up
    takes 0.3-1 s); retired as soon as one is ready, because these decoders hold the GIL for a
    whole frame, which the GUI thread would feel."""

    def call(self, src: str, indices: list[int] | None, transfer_syntax: str | None) -> list[np.ndarray]:
        return quietly(decode_frames, src, indices, transfer_syntax)

    def close(self) -> None:
        pass


class DecodeFailed(Exception):
    """A worker process could not decode a file (the message names the exception, never data)."""


class DecodePool:
    """Worker processes that decode files, one at a time each; :meth:`submit` gives a thread
    :class:`~concurrent.futures.Future` (its thread waits on the pipe, without the GIL)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[_Worker | _InProcess] = queue.SimpleQueue()
        self._workers: list[_Worker] = []
        self._threads = ThreadPoolExecutor(size + 1, thread_name_prefix="decode")
        self._lock = threading.Lock()
        self._any_ready = threading.Event()
        self._idle.put(_InProcess())
        for _ in range(size):  # start them all now: their start-up overlaps the caller's work
            self._add()

    def _add(self) -> None:
        w = _Worker()
        with self._lock:
            self._workers.append(w)
        threading.Thread(target=self._when_ready, args=(w,), daemon=True, name="decode-start").start()

    def _when_ready(self, w: _Worker) -> None:
        try:
            w.wait_ready()
        except Exception:  # it died starting: its jobs go to the others
            log.info("a decoding process failed to start")
            with self._lock:
                if w in self._workers:
                    self._workers.remove(w)
            w.close()
            return
        self._any_ready.set()
        self._idle.put(w)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until at least one decoding process is ready (benchmarks, tests)."""
        return self._any_ready.wait(timeout)

    def submit(self, src: str, indices: list[int] | None,
               transfer_syntax: str | None) -> Future[list[np.ndarray]]:
        return self._threads.submit(self._run, src, indices, transfer_syntax)

    def _run(self, src: str, indices: list[int] | None, transfer_syntax: str | None) -> list[np.ndarray]:
        w = self._idle.get()
        try:
            result = w.call(src, indices, transfer_syntax)
        except DecodeFailed:
            self._release(w)
            raise
        except Exception:
            if isinstance(w, _InProcess):  # a broken file, decoded here
                self._release(w)
                raise
            with self._lock:  # the worker died or its pipe broke: replace it
                if w in self._workers:
                    self._workers.remove(w)
            w.close()
            self._add()
            raise
        self._release(w)
        return result

    def _release(self, w: _Worker | _InProcess) -> None:
        if isinstance(w, _InProcess) and self._any_ready.is_set():
            return  # retired
        self._idle.put(w)

    def shutdown(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            workers, self._workers = self._workers, []
        for w in workers:
            w.close()


def decode_pool() -> DecodePool:
    """The shared decoding pool (one process per core), started on first use and kept for later
    loads; stopped at exit."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = DecodePool(pool_size())
            atexit.register(shutdown_pool)
        return _pool


def shutdown_pool() -> None:
    """Stop the worker processes (they are started again on the next use)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()
