"""Python's `multiprocessing.connection.Connection` inside a task: one end of a pipe the host made
(`wasmproc::pipe`), passed as an argument annotated `Connection[T]`.

A pipe is two queues, one per direction (one for a one-way pipe); an end crosses the sandbox as
the handles of its two queues, `(sending, receiving)`, and follows the rules of
`wasmproc_wire::pipe::Ends`, as the host's and the Rust guest's `Connection<T>` do: the peer of a
closed end receives what was sent, then `EOFError`, and its sends raise `BrokenPipeError`.
"""

from typing import Generic, TypeVar

from ._types import QUEUE_HANDLE, Optional, Shared, Tuple, expect
from .queue import Closed, Queue

T = TypeVar("T")


class Connection(Generic[T]):
    """One end of a pipe (`Connection[str]` as a parameter annotation)."""

    def __init__(self, tx: Queue | None, rx: Queue | None):
        self._tx, self._rx = tx, rx

    @classmethod
    def _wasmproc_type(cls, args, where):
        expect(args, "Connection[T]", where)
        (item,) = args

        def make(handles):
            tx, rx = (None if h is None else Queue(h, item) for h in handles)
            return cls(tx, rx)

        shape = Tuple([Optional(QUEUE_HANDLE), Optional(QUEUE_HANDLE)])
        return Shared(f"Connection<{item.rust}>", shape, cls, make)

    def _handle(self):
        return tuple(None if q is None else q.handle for q in (self._tx, self._rx))

    @property
    def readable(self) -> bool:
        """Whether this end can receive."""
        return self._rx is not None

    @property
    def writable(self) -> bool:
        """Whether this end can send."""
        return self._tx is not None

    def send(self, obj) -> None:
        """Sends `obj` (`BrokenPipeError` once either end is closed)."""
        if self._tx is None:
            raise OSError("connection is read-only")
        try:
            self._tx.put(obj)
        except Closed:
            raise BrokenPipeError("the connection is closed") from None

    def recv(self):
        """Receives the next item, waiting for it (`EOFError` once the peer closed and everything
        it sent has been received)."""
        if self._rx is None:
            raise OSError("connection is write-only")
        try:
            return self._rx.get()
        except Closed:
            raise EOFError from None

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Whether `recv` would return at once (an item, or end of file), waiting up to `timeout`
        seconds (None: until it would). Always false for an end that only sends."""
        return self._rx is not None and self._rx._ready(timeout)

    def close(self) -> None:
        """Closes this end: the peer receives what was sent, then end of file."""
        # The receiving side first: a peer that sees end of file must also find its sends refused.
        for q in (self._rx, self._tx):
            if q is not None:
                try:
                    q.close()
                except (Closed, RuntimeError):
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
