"""Python's `multiprocessing.shared_memory.SharedMemory` inside a task: a block the host created
(`wasmproc::SharedMemory`), passed as an argument annotated `SharedMemory`. The bytes live
outside the sandbox, so `buf` copies on each access instead of being a `memoryview`."""

from . import _region
from ._types import Shared, Str, expect


class SharedMemory:
    """A shared block of bytes: `shm.buf[0:4] = b"abcd"`, `bytes(shm.buf[:4])`."""

    def __init__(self, name: str):
        self.name = name
        self._region = _region.attach(name)
        self.buf = _Buffer(self)

    @classmethod
    def _wasmproc_type(cls, args, where):
        expect(args, "SharedMemory", where)
        return Shared("SharedMemory", Str(), cls, cls)

    def _handle(self):
        return self.name

    @property
    def size(self) -> int:
        """The size in bytes."""
        try:
            return _region.wit.size(self._region)
        except _region.Err as e:
            raise _region.fault(e) from None

    def read(self, offset: int, n: int) -> bytes:
        """`n` bytes at `offset`, copied out (`IndexError` past the end)."""
        try:
            return bytes(_region.wit.read(self._region, offset, n))
        except _region.Err as e:
            raise _region.fault(e) from None

    def write(self, offset: int, data: bytes) -> None:
        """Copies `data` to `offset` (`IndexError` past the end)."""
        try:
            _region.wit.write(self._region, offset, bytes(data))
        except _region.Err as e:
            raise _region.fault(e) from None

    def close(self) -> None:
        """Nothing to do: the worker keeps the region mapped (Python's API has it)."""

    def __repr__(self):
        return f"SharedMemory({self.name!r}, size={self.size})"


class _Buffer:
    """`shm.buf`: indexing and slicing that read and write the region."""

    def __init__(self, shm: SharedMemory):
        self._shm = shm

    def __len__(self):
        return self._shm.size

    def _span(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise ValueError("shm.buf takes contiguous slices only")
            return start, max(0, stop - start)
        size = len(self)
        i = key + size if key < 0 else key
        if not 0 <= i < size:
            raise IndexError("index out of range")
        return i, 1

    def __getitem__(self, key):
        start, n = self._span(key)
        data = self._shm.read(start, n)
        return data if isinstance(key, slice) else data[0]

    def __setitem__(self, key, value):
        start, n = self._span(key)
        data = bytes(value) if isinstance(key, slice) else bytes([value])
        if len(data) != n:
            raise ValueError(f"{len(data)} bytes do not fit a {n}-byte slice")
        self._shm.write(start, data)

    def tobytes(self) -> bytes:
        return self[:]
