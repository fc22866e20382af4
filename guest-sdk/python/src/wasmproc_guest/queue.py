"""Python's `multiprocessing.Queue` and `JoinableQueue` inside a task: a queue the host owns,
passed to the task as an argument annotated `Queue[T]`. Items are postcard-encoded `T`, item for
item the same bytes as a Rust guest's `Queue<T>` and the host's."""

import queue as _stdlib_queue
import time
from typing import Generic, TypeVar

try:  # the generated bindings exist only inside a component build
    from componentize_py_types import Err
    from wit_world.imports import queue as wit
except ImportError:
    Err = wit = None

from ._types import QUEUE_HANDLE, Reader, Shared, expect, timeout_ms

T = TypeVar("T")


class Closed(Exception):
    """The queue was closed (Python: `ValueError: Queue is closed`)."""


def _fault(err, what: str):
    """The exception for a WIT queue error."""
    name = type(err.value).__name__ if hasattr(err, "value") else type(err).__name__
    if name.endswith("Empty"):
        return _stdlib_queue.Empty()
    if name.endswith("Full"):
        return _stdlib_queue.Full()
    if name.endswith("Closed"):
        return Closed(f"the queue is closed ({what})")
    if name.endswith("TooManyTaskDone"):
        return ValueError("task_done() called too many times")
    return RuntimeError(f"the queue no longer exists ({what})")


class Queue(Generic[T]):
    """A host-owned queue (`Queue[int]` as a parameter annotation)."""

    _rust = "Queue"

    def __init__(self, handle: int, item):
        self.handle = handle
        self._item = item

    @classmethod
    def _wasmproc_type(cls, args, where):
        expect(args, f"{cls.__name__}[T]", where)
        (item,) = args
        return Shared(f"{cls._rust}<{item.rust}>", QUEUE_HANDLE, cls, lambda h: cls(h, item))

    def _handle(self):
        return self.handle

    def _encode(self, item) -> bytes:
        out = bytearray()
        self._item.encode(out, item)
        return bytes(out)

    def _decode(self, data: bytes):
        return self._item.decode(Reader(data))

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:
        """Appends `item`, waiting for room (`queue.Full` after `timeout` seconds)."""

        try:
            wit.put(self.handle, self._encode(item), timeout_ms(block, timeout))
        except Err as e:
            raise _fault(e, "put") from None

    def put_nowait(self, item) -> None:
        self.put(item, block=False)

    def get(self, block: bool = True, timeout: float | None = None):
        """Takes the oldest item, waiting for one (`queue.Empty` after `timeout` seconds)."""

        try:
            return self._decode(wit.get(self.handle, timeout_ms(block, timeout)))
        except Err as e:
            raise _fault(e, "get") from None

    def get_nowait(self):
        return self.get(block=False)

    def qsize(self) -> int:

        try:
            return wit.len(self.handle)
        except Err as e:
            raise _fault(e, "qsize") from None

    def empty(self) -> bool:
        return self.qsize() == 0

    def _ready(self, timeout: float | None) -> bool:
        """Whether a get would return at once (an item, or the queue closed), waiting up to
        `timeout` seconds (None: until it would). The interface has no wait-without-taking: look,
        then look again shortly."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            try:
                if wit.len(self.handle) > 0 or wit.is_closed(self.handle):
                    return True
            except Err:
                return True  # gone: the get says why
            if deadline is not None and time.monotonic() >= deadline:
                return False
            pause = 0.001 if deadline is None else min(0.001, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)

    def close(self) -> None:

        try:
            wit.close(self.handle)
        except Err as e:
            raise _fault(e, "close") from None

    def task_done(self) -> None:
        """`JoinableQueue.task_done()`."""

        try:
            wit.task_done(self.handle)
        except Err as e:
            raise _fault(e, "task_done") from None


class JoinableQueue(Queue[T]):
    """The host's `JoinableQueue` (`JoinableQueue[int]`): a queue whose items are marked done."""

    _rust = "JoinableQueue"

    def join(self) -> None:
        """Waits until every item put has been marked done (`task_done`)."""
        pause = 0.00002
        while True:
            try:
                if wit.unfinished(self.handle) == 0:
                    return
            except Err as e:
                raise _fault(e, "join") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.002)
