"""A decoding worker process: reads ``(path, frame indices, transfer syntax)`` jobs pickled on stdin
and answers each with ``(True, [arrays])`` or ``(False, "ExceptionName: message")`` on stdout; ends
at end of input. Started by :class:`workstation.dicom.decoding.DecodePool`; not for direct use.

pydicom's per-value warnings and log records are silenced in this process only (the parent reports
per file and per series)."""
from __future__ import annotations

import logging
import pickle
import sys
import warnings
from typing import BinaryIO


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    from workstation.dicom.decoding import PREFERRED_PLUGINS, decode_frames, decoding_plugin, prefer_throughput

    prefer_throughput()
    for ts in PREFERRED_PLUGINS:  # import the decoders now, before saying ready
        decoding_plugin(ts)
    pickle.dump(("ready", None), out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()
    while True:
        try:
            src, indices, ts = pickle.load(inp)
        except EOFError:
            return
        try:
            reply: tuple[bool, object] = (True, decode_frames(src, indices, ts))
        except Exception as exc:  # reported per file by the parent; the message names no values
            reply = (False, f"{type(exc).__name__}: {str(exc).strip()[:160]}")
        pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


def main() -> None:
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed by a library may corrupt the reply stream
    serve(inp, out)


if __name__ == "__main__":
    main()
