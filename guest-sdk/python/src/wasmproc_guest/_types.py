"""Python annotations as wasmproc types: the Rust type name a task declares, and the postcard and
JSON encodings both SDKs agree on.

| Python | Rust (listing, postcard) |
|---|---|
| `int` | `i64` (zigzag varint) |
| `float` | `f64` (8 bytes, little endian) |
| `bool` | `bool` |
| `str` | `String` |
| `bytes` | `Vec<u8>` |
| `None` | `()` |
| `list[T]` | `Vec<T>` |
| `tuple[A, B]` | `(A,B)` |
| `T \\| None`, `Optional[T]` | `Option<T>` |
| `dict[K, V]` | `HashMap<K,V>` |
| `i8` … `i64`, `u8` … `u64`, `f32` (from `wasmproc_guest`) | the same Rust type |
| `Queue[T]`, `JoinableQueue[T]`, `Connection[T]` | the same, `T` as above (a handle) |
| `Value[T]`, `Array[T]` (`T`: `int`, `float` or `i8` … `f64`) | the same |
| `Lock`, `RLock`, `Semaphore`, `Event`, `Condition`, `Barrier`, `SharedMemory` | the same |
| `DictProxy[K, V]`, `ListProxy[T]`, `Namespace` | `Dict<K,V>`, `List<T>`, `Namespace` |

Python has one integer type: `int` is `i64` on the wire; a value outside its range is a bad
argument or a bad result, never a wrapped number. The sized markers (`u64`, `i32`, …) are `int`
and `float` subclasses: annotate with them where a Rust host sends that type.

A shared object is passed as its handle; each class says how (`_wasmproc_type`), so this module
needs none of them.
"""

import struct
import types
import typing
from abc import ABC, abstractmethod

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


class WireError(Exception):
    """Bytes or a value that do not fit the declared type."""


class Reader:
    """Postcard bytes being decoded."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.at = 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise WireError("input ends early")
        b = self.data[self.at]
        self.at += 1
        return b

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise WireError("input ends early")
        out = bytes(self.data[self.at : self.at + n])
        self.at += n
        return out

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise WireError("varint too long")


def timeout_ms(block: bool, timeout) -> int | None:
    """A Python `block`/`timeout` pair (seconds) as the interfaces' `timeout-ms`: 0 for no
    waiting, `None` for waiting as long as it takes."""
    if not block:
        return 0
    if timeout is None or timeout < 0:
        return None
    return int(timeout * 1000)


def put_varint(out: bytearray, value: int) -> None:
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


class Type(ABC):
    """One declared type: its Rust name and its encodings."""

    rust: str

    @abstractmethod
    def encode(self, out: bytearray, value) -> None:
        """Appends the postcard encoding of `value`."""

    @abstractmethod
    def decode(self, r: Reader):
        """Reads one value."""

    def from_json(self, value):
        """Checks (and converts) a value decoded from JSON."""
        return value

    def to_json(self, value):
        return value


class Float(Type):
    """`f64` (`f32` with `Float("f32", "<f")`): little endian, 8 (or 4) bytes."""

    def __init__(self, rust: str = "f64", fmt: str = "<d"):
        self.rust, self.fmt, self.width = rust, fmt, struct.calcsize(fmt)

    def encode(self, out, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WireError(f"expected a float, got {type(value).__name__}")
        out += struct.pack(self.fmt, float(value))

    def decode(self, r):
        return struct.unpack(self.fmt, r.take(self.width))[0]

    def from_json(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WireError(f"expected a number, got {type(value).__name__}")
        return float(value)

    def to_json(self, value):
        return self.from_json(value)


class Bool(Type):
    rust = "bool"

    def encode(self, out, value):
        if not isinstance(value, bool):
            raise WireError(f"expected a bool, got {type(value).__name__}")
        out.append(1 if value else 0)

    def decode(self, r):
        b = r.byte()
        if b > 1:
            raise WireError(f"{b} is not a bool")
        return b == 1

    def from_json(self, value):
        if not isinstance(value, bool):
            raise WireError(f"expected true or false, got {type(value).__name__}")
        return value

    def to_json(self, value):
        return self.from_json(value)


class Str(Type):
    rust = "String"

    def encode(self, out, value):
        if not isinstance(value, str):
            raise WireError(f"expected a str, got {type(value).__name__}")
        data = value.encode()
        put_varint(out, len(data))
        out += data

    def decode(self, r):
        try:
            return r.take(r.varint()).decode()
        except UnicodeDecodeError as e:
            raise WireError(f"not UTF-8: {e}") from None

    def from_json(self, value):
        if not isinstance(value, str):
            raise WireError(f"expected a string, got {type(value).__name__}")
        return value

    def to_json(self, value):
        return self.from_json(value)


class Bytes(Type):
    rust = "Vec<u8>"

    def encode(self, out, value):
        if not isinstance(value, (bytes, bytearray)):
            raise WireError(f"expected bytes, got {type(value).__name__}")
        put_varint(out, len(value))
        out += value

    def decode(self, r):
        return r.take(r.varint())

    def from_json(self, value):
        if not isinstance(value, list) or not all(isinstance(b, int) and 0 <= b < 256 for b in value):
            raise WireError("expected a list of byte values")
        return bytes(value)

    def to_json(self, value):
        if not isinstance(value, (bytes, bytearray)):
            raise WireError(f"expected bytes, got {type(value).__name__}")
        return list(value)


class Unit(Type):
    rust = "()"

    def encode(self, out, value):
        if value is not None:
            raise WireError(f"expected None, got {type(value).__name__}")

    def decode(self, r):
        return None

    def from_json(self, value):
        if value is not None:
            raise WireError("expected null")
        return None

    def to_json(self, value):
        return self.from_json(value)


class List(Type):
    def __init__(self, item: Type):
        self.item = item
        self.rust = f"Vec<{item.rust}>"

    def encode(self, out, value):
        if not isinstance(value, (list, tuple)):
            raise WireError(f"expected a list, got {type(value).__name__}")
        put_varint(out, len(value))
        for v in value:
            self.item.encode(out, v)

    def decode(self, r):
        return [self.item.decode(r) for _ in range(r.varint())]

    def from_json(self, value):
        if not isinstance(value, list):
            raise WireError(f"expected a list, got {type(value).__name__}")
        return [self.item.from_json(v) for v in value]

    def to_json(self, value):
        if not isinstance(value, (list, tuple)):
            raise WireError(f"expected a list, got {type(value).__name__}")
        return [self.item.to_json(v) for v in value]


class Tuple(Type):
    def __init__(self, items: list):
        self.items = items
        self.rust = "(" + ",".join(t.rust for t in items) + ("," if len(items) == 1 else "") + ")"

    def encode(self, out, value):
        if not isinstance(value, (list, tuple)) or len(value) != len(self.items):
            raise WireError(f"expected a tuple of {len(self.items)}")
        for t, v in zip(self.items, value):
            t.encode(out, v)

    def decode(self, r):
        return tuple(t.decode(r) for t in self.items)

    def from_json(self, value):
        if not isinstance(value, list) or len(value) != len(self.items):
            raise WireError(f"expected an array of {len(self.items)}")
        return tuple(t.from_json(v) for t, v in zip(self.items, value))

    def to_json(self, value):
        if not isinstance(value, (list, tuple)) or len(value) != len(self.items):
            raise WireError(f"expected a tuple of {len(self.items)}")
        return [t.to_json(v) for t, v in zip(self.items, value)]


class Optional(Type):
    def __init__(self, item: Type):
        self.item = item
        self.rust = f"Option<{item.rust}>"

    def encode(self, out, value):
        if value is None:
            out.append(0)
        else:
            out.append(1)
            self.item.encode(out, value)

    def decode(self, r):
        tag = r.byte()
        if tag > 1:
            raise WireError(f"{tag} is not an option tag")
        return self.item.decode(r) if tag else None

    def from_json(self, value):
        return None if value is None else self.item.from_json(value)

    def to_json(self, value):
        return None if value is None else self.item.to_json(value)


class Dict(Type):
    def __init__(self, key: Type, value: Type):
        self.key, self.value = key, value
        self.rust = f"HashMap<{key.rust},{value.rust}>"

    def encode(self, out, value):
        if not isinstance(value, dict):
            raise WireError(f"expected a dict, got {type(value).__name__}")
        put_varint(out, len(value))
        for k, v in value.items():
            self.key.encode(out, k)
            self.value.encode(out, v)

    def decode(self, r):
        return {self.key.decode(r): self.value.decode(r) for _ in range(r.varint())}

    def from_json(self, value):
        if not isinstance(value, dict):
            raise WireError(f"expected an object, got {type(value).__name__}")
        if not isinstance(self.key, Str):
            raise WireError("JSON objects have string keys only")
        return {k: self.value.from_json(v) for k, v in value.items()}

    def to_json(self, value):
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise WireError("expected a dict with str keys")
        return {k: self.value.to_json(v) for k, v in value.items()}


class Sized(Type):
    """A Rust integer of `width` bytes: postcard writes one byte for `u8`/`i8`, a varint for the
    unsigned ones and a zigzag varint for the signed ones."""

    def __init__(self, rust: str, width: int, signed: bool):
        self.rust, self.width, self.signed = rust, width, signed
        bits = 8 * width
        self.lo, self.hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise WireError(f"expected an int, got {type(value).__name__}")
        if not self.lo <= value <= self.hi:
            raise WireError(f"{value} does not fit in {self.rust}")
        return int(value)

    def encode(self, out, value):
        value = self.check(value)
        if self.width == 1:
            out.append(value & 0xFF)
        elif self.signed:
            put_varint(out, ((value << 1) ^ (value >> 63)) & ((1 << 64) - 1))
        else:
            put_varint(out, value)

    def decode(self, r):
        if self.width == 1:
            b = r.byte()
            return b - 256 if self.signed and b > 127 else b
        n = r.varint()
        value = (n >> 1) ^ -(n & 1) if self.signed else n
        if not self.lo <= value <= self.hi:
            raise WireError(f"{value} does not fit in {self.rust}")
        return value

    def from_json(self, value):
        return self.check(value)

    def to_json(self, value):
        return self.check(value)


class Record(Type):
    """A Rust struct: its fields in order in postcard, an object in JSON (serde also reads an
    array). Values are tuples."""

    def __init__(self, rust: str, fields: list):
        self.rust, self.fields = rust, fields

    def encode(self, out, value):
        for (_, t), v in zip(self.fields, value, strict=True):
            t.encode(out, v)

    def decode(self, r):
        return tuple(t.decode(r) for _, t in self.fields)

    def from_json(self, value):
        if isinstance(value, dict):
            try:
                value = [value[name] for name, _ in self.fields]
            except KeyError as e:
                raise WireError(f"{self.rust}: missing field {e}") from None
        if not isinstance(value, list) or len(value) != len(self.fields):
            raise WireError(f"expected a {self.rust}")
        return tuple(t.from_json(v) for (_, t), v in zip(self.fields, value))

    def to_json(self, value):
        return {name: t.to_json(v) for (name, t), v in zip(self.fields, value, strict=True)}


class Shared(Type):
    """A shared object passed as an argument: on the wire its handle (of type `shape`), in Python
    the object `make(handle)` builds; `cls` is its class (an object is sent as `obj._handle()`)."""

    def __init__(self, rust: str, shape: Type, cls, make):
        self.rust, self.shape, self.cls, self.make = rust, shape, cls, make

    def _handle(self, value):
        if not isinstance(value, self.cls):
            raise WireError(f"expected a {self.cls.__name__}, got {type(value).__name__}")
        return value._handle()

    def encode(self, out, value):
        self.shape.encode(out, self._handle(value))

    def decode(self, r):
        return self.make(self.shape.decode(r))

    def from_json(self, value):
        return self.make(self.shape.from_json(value))

    def to_json(self, value):
        return self.shape.to_json(self._handle(value))


U64 = Sized("u64", 8, False)


def Int() -> Sized:
    """`int`: Rust's `i64`."""
    return Sized("i64", 8, True)

# The handles of wasmproc_wire::handle.
QUEUE_HANDLE = U64
OBJECT_HANDLE = Record("ObjectHandle", [("region", Str()), ("offset", U64)])
ARRAY_HANDLE = Record("ArrayHandle", [("at", OBJECT_HANDLE), ("len", U64)])


# Sized numbers, as annotations: `x: u64`, `Value[i32]`. Values are plain ints and floats.
class i8(int):
    """Rust's `i8` (Python typecode 'b')."""


class i16(int):
    """Rust's `i16` ('h')."""


class i32(int):
    """Rust's `i32` ('i')."""


class i64(int):
    """Rust's `i64` ('q'); plain `int` means the same."""


class u8(int):
    """Rust's `u8` ('B')."""


class u16(int):
    """Rust's `u16` ('H')."""


class u32(int):
    """Rust's `u32` ('I')."""


class u64(int):
    """Rust's `u64` ('Q')."""


class f32(float):
    """Rust's `f32` ('f')."""


class f64(float):
    """Rust's `f64` ('d'); plain `float` means the same."""


SIZED = {
    i8: Sized("i8", 1, True),
    i16: Sized("i16", 2, True),
    i32: Sized("i32", 4, True),
    i64: Int(),
    u8: Sized("u8", 1, False),
    u16: Sized("u16", 2, False),
    u32: Sized("u32", 4, False),
    u64: U64,
    f32: Float("f32", "<f"),
    f64: Float(),
}

PRIMITIVES = {
    int: Int(),
    float: Float(),
    bool: Bool(),
    str: Str(),
    bytes: Bytes(),
    type(None): Unit(),
    None: Unit(),
    **SIZED,
}


def of(annotation, where: str) -> Type:
    """The type an annotation declares; `where` names it in errors."""
    if annotation in PRIMITIVES:
        return PRIMITIVES[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = args[0] if args[1] is type(None) else args[1]
        return Optional(of(inner, where))
    if origin is list and len(args) == 1:
        return List(of(args[0], where))
    if origin is tuple and args and Ellipsis not in args:
        return Tuple([of(a, where) for a in args])
    if origin is dict and len(args) == 2:
        return Dict(of(args[0], where), of(args[1], where))
    # A shared object's class says what it is on the wire (`Queue[int]`, `Lock`, …).
    shared = getattr(origin or annotation, "_wasmproc_type", None)
    if shared is not None:
        return shared([of(a, where) for a in args], where)
    raise TypeError(
        f"{where}: {annotation!r} has no wasmproc type; use int, float, bool, str, bytes, None, "
        "list[T], tuple[...], T | None, dict[K, V], a sized number (u64, i32, f32, …) or a shared "
        "object (Queue[T], Connection[T], Value[T], Lock, DictProxy[K, V], …)"
    )


def expect(args: list, usage: str, where: str) -> None:
    """Checks that a shared object's annotation has as many type arguments as `usage` shows
    (`"Lock"`, `"Queue[T]"`, `"DictProxy[K, V]"`)."""
    wanted = usage.count(",") + 1 if "[" in usage else 0
    if len(args) != wanted:
        raise TypeError(f"{where}: annotate it as {usage}")
