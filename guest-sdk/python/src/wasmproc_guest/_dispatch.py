"""The component's export: the task listing, and running a chunk of one task.

Outcomes are framed as `wasmproc_wire::outcome` lays them out (a tag byte, a little-endian u32
length, the bytes) and handed to the host in one `host.emit` per call. An exception in a task is
that input's failure (its traceback is the message); `SystemExit`, `KeyboardInterrupt` and other
non-`Exception` errors are a panic: the outcomes so far are emitted, then the instance traps, as a
Rust guest's panic does.

The generated bindings (`wit_world`) exist only inside a component build: this module is imported
by the component's export, never outside one. Everything it uses is imported here, at build time
(componentize-py keeps what was imported when it snapshots the interpreter).
"""

import struct
import traceback

from componentize_py_types import Err
from wit_world.imports import host, types

from . import _json, _registry
from ._types import Reader, WireError

# The outcome tags (wasmproc_wire::outcome::Tag) a guest writes.
OK, BAD_ARGUMENT, FAILED, BAD_RESULT = 0, 1, 2, 3


def _frame(out: bytearray, tag: int, data: bytes) -> None:
    out += struct.pack("<BI", tag, len(data))
    out += data


def _decode_args(entry, codec_is_json: bool, data: bytes):
    params = entry.params
    if codec_is_json:
        value = _json.loads(data)
        if len(params) == 0:
            if value is not None:
                raise WireError("this task takes no arguments")
            return ()
        if len(params) == 1:
            return (params[0][1].from_json(value),)
        if not isinstance(value, list) or len(value) != len(params):
            raise WireError(f"expected an array of {len(params)} arguments")
        return tuple(t.from_json(v) for (_, t), v in zip(params, value))
    r = Reader(data)
    args = tuple(t.decode(r) for _, t in params)
    if r.at != len(r.data):
        raise WireError(f"{len(r.data) - r.at} bytes left over after the arguments")
    return args


def _encode_result(entry, codec_is_json: bool, value) -> bytes:
    if codec_is_json:
        return _json.dumps(entry.returns.to_json(value))
    out = bytearray()
    entry.returns.encode(out, value)
    return bytes(out)


def _run_one(entry, codec_is_json: bool, data: bytes, out: bytearray) -> None:
    try:
        args = _decode_args(entry, codec_is_json, data)
    except (WireError, ValueError, TypeError, OSError) as e:  # OSError: a shared region is missing
        _frame(out, BAD_ARGUMENT, f"{entry.name}: {e}".encode())
        return
    try:
        value = entry.func(*args)
    except Exception as e:
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next))
        _frame(out, FAILED, f"{type(e).__name__}: {e}\n{text}".rstrip().encode())
        return
    try:
        _frame(out, OK, _encode_result(entry, codec_is_json, value))
    except (WireError, ValueError, TypeError, OverflowError) as e:
        _frame(out, BAD_RESULT, f"{entry.name} returned {type(value).__name__}: {e}".encode())


def tasks():
    return [
        types.TaskInfo(
            name=e.name,
            params=[types.Param(name=n, ty=t.rust) for n, t in e.params],
            returns=e.returns.rust,
            doc=e.doc,
        )
        for e in sorted(_registry.TASKS.values(), key=lambda e: e.name)
    ]


def run(task: str, codec, args: bytes, lens) -> None:
    entry = _registry.TASKS.get(task)
    if entry is None:
        raise Err(types.TaskError_UnknownTask(task))
    codec_is_json = codec == types.Codec.JSON
    out = bytearray()
    first, offset = 0, 0
    for n in lens:
        data = bytes(args[offset : offset + n])
        offset += n
        try:
            _run_one(entry, codec_is_json, data, out)
        except BaseException as e:
            # A panic: keep what finished, then trap (the host reports this input as Panicked).
            if out:
                host.emit(first, bytes(out))
            host.panicked(f"{type(e).__name__}: {e}")
            raise
    host.emit(first, bytes(out))
