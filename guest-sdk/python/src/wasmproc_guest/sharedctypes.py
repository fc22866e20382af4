"""Python's `multiprocessing.Value` and `Array` inside a task: shared numbers the host created
(`wasmproc::Value<T>`, `wasmproc::Array<T>`), passed as arguments annotated `Value[T]` or
`Array[T]`, where `T` is `int` (i64), `float` (f64) or a sized number (`i32`, `u8`, `f32`, …).
Each has its lock first, then its numbers, as `wasmproc_wire::layout` lays them out.
"""

import struct
from typing import Generic, TypeVar

from ._region import Err, Obj, fault, wit
from ._types import ARRAY_HANDLE, OBJECT_HANDLE, Shared, expect
from .synchronize import Lock

try:  # the generated bindings exist only inside a component build
    from wit_world.imports import sync as _sync
except ImportError:
    _sync = None

T = TypeVar("T")

LOCK_SIZE = 8  # wasmproc_wire::layout::LOCK_SIZE: a Value's number and an Array's items follow it


class _Number:
    """How one number type lies in memory: its typecode, width and bits."""

    def __init__(self, rust: str, typecode: str, width: int, kind: str):
        self.rust, self.typecode, self.width, self.kind = rust, typecode, width, kind
        bits = 8 * width
        self.mask = (1 << bits) - 1
        self.lo, self.hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if kind == "i" else (0, self.mask)

    def to_bits(self, value) -> int:
        if self.kind == "f":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"a {self.rust} holds floats, not {type(value).__name__}")
            fmt = "<f" if self.width == 4 else "<d"
            return int.from_bytes(struct.pack(fmt, value), "little")
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"a {self.rust} holds ints, not {type(value).__name__}")
        if not self.lo <= value <= self.hi:
            raise OverflowError(f"{value} does not fit in {self.rust}")
        return value & self.mask

    def from_bits(self, bits: int):
        bits &= self.mask
        if self.kind == "f":
            return struct.unpack("<f" if self.width == 4 else "<d", bits.to_bytes(self.width, "little"))[0]
        if self.kind == "i" and bits > self.hi:
            return bits - (1 << (8 * self.width))
        return bits

    def delta_bits(self, delta) -> int:
        """The bits of `delta` for `value-add`: integers wrap at their width, as Rust's do."""
        if self.kind != "f" and isinstance(delta, int) and not isinstance(delta, bool):
            return delta & self.mask
        return self.to_bits(delta)


# The numbers a Value or Array holds, by Rust name (`Value[int]` is `Value<i64>`).
_BY_RUST = {
    rust: _Number(rust, code, width, kind)
    for rust, code, width, kind in [
        ("i8", "b", 1, "i"),
        ("i16", "h", 2, "i"),
        ("i32", "i", 4, "i"),
        ("i64", "q", 8, "i"),
        ("u8", "B", 1, "u"),
        ("u16", "H", 2, "u"),
        ("u32", "I", 4, "u"),
        ("u64", "Q", 8, "u"),
        ("f32", "f", 4, "f"),
        ("f64", "d", 8, "f"),
    ]
}


def _number(args, usage: str, where: str) -> _Number:
    expect(args, usage, where)
    number = _BY_RUST.get(args[0].rust)
    if number is None:
        raise TypeError(f"{where}: {usage} holds int, float or a sized number (i8 … u64, f32), not {args[0].rust}")
    return number


def _call(f, *args):
    try:
        return f(*args)
    except Err as e:
        raise fault(e) from None


class Value(Generic[T]):
    """A shared number with its lock: `v.value`, `with v.get_lock(): v.value += 1`."""

    def __init__(self, obj: Obj, number: _Number):
        self._lock, self._number = Lock(obj), number

    @classmethod
    def _wasmproc_type(cls, args, where):
        number = _number(args, "Value[T]", where)
        return Shared(f"Value<{number.rust}>", OBJECT_HANDLE, cls, lambda h: cls(Obj(h), number))

    def _handle(self):
        return self._lock._obj.handle()

    def _at(self):
        obj = self._lock._obj
        return obj.region, obj.offset + LOCK_SIZE

    @property
    def value(self):
        """The number now (read atomically; take the lock to read-modify-write)."""
        return self._number.from_bits(_call(wit.load, *self._at(), self._number.width))

    @value.setter
    def value(self, new) -> None:
        _call(wit.store, *self._at(), self._number.width, self._number.to_bits(new))

    def get_lock(self) -> Lock:
        """The value's lock."""
        return self._lock

    def add(self, delta):
        """Adds `delta` under the lock in one call to the host; returns the new value —
        `with v.get_lock(): v.value += delta`. Integers wrap at their width."""
        obj, n = self._lock._obj, self._number
        try:
            bits = _sync.value_add(obj.region, obj.offset, ord(n.typecode), n.delta_bits(delta))
        except Err as e:
            raise RuntimeError(f"shared value unusable: {e.value}") from None
        return n.from_bits(bits)

    def __repr__(self):
        return f"<Value[{self._number.rust}] {self.value!r}>"


class Array(Generic[T]):
    """A shared array of numbers with its lock: `a[i]`, `a[i] = x`, `a[:]`, `len(a)`."""

    def __init__(self, obj: Obj, length: int, number: _Number):
        self._lock, self._len, self._number = Lock(obj), length, number

    @classmethod
    def _wasmproc_type(cls, args, where):
        number = _number(args, "Array[T]", where)
        return Shared(f"Array<{number.rust}>", ARRAY_HANDLE, cls, lambda h: cls(Obj(h[0]), h[1], number))

    def _handle(self):
        return (self._lock._obj.handle(), self._len)

    def get_lock(self) -> Lock:
        """The array's lock."""
        return self._lock

    def __len__(self):
        return self._len

    def _item(self, i: int) -> int:
        if not isinstance(i, int):
            raise TypeError("array indices are ints or slices")
        j = i + self._len if i < 0 else i
        if not 0 <= j < self._len:
            raise IndexError(f"index {i} is out of range for {self._len} items")
        obj = self._lock._obj
        return obj.offset + LOCK_SIZE + j * self._number.width

    def _all(self) -> list:
        n, obj = self._number, self._lock._obj
        data = bytes(_call(wit.read, obj.region, obj.offset + LOCK_SIZE, self._len * n.width))
        return [n.from_bits(int.from_bytes(data[k : k + n.width], "little")) for k in range(0, len(data), n.width)]

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._all()[key]
        n = self._number
        return n.from_bits(_call(wit.load, self._lock._obj.region, self._item(key), n.width))

    def __setitem__(self, key, value):
        n, obj = self._number, self._lock._obj
        if isinstance(key, slice):
            items = self._all()
            items[key] = value
            if len(items) != self._len:
                raise ValueError("an array slice assignment cannot change the array's length")
            data = b"".join(n.to_bits(v).to_bytes(n.width, "little") for v in items)
            _call(wit.write, obj.region, obj.offset + LOCK_SIZE, data)
            return
        _call(wit.store, obj.region, self._item(key), n.width, n.to_bits(value))

    def __iter__(self):
        return iter(self._all())

    def __repr__(self):
        return f"<Array[{self._number.rust}] {self._all()!r}>"
