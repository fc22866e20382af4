"""Python's `Manager()` objects inside a task: the dict, list and namespace the host's
`wasmproc::Manager` made, passed as arguments annotated `DictProxy[K, V]`, `ListProxy[T]` or
`Namespace` (Rust's `Dict<K,V>`, `List<T>`, `Namespace`). Keys, values and items are postcard, the
same bytes a Rust guest and the host use. Writes are sent without waiting, in order with this
task's other calls; if the object is gone, the task fails instead of losing them.
"""

from typing import Generic, TypeVar

from ._types import U64, Bool, Bytes, Float, Int, Reader, Shared, Str, Unit, WireError, expect, of

try:  # the generated bindings exist only inside a component build
    from componentize_py_types import Err
    from wit_world.imports import manager as wit
except ImportError:
    Err = wit = None

K, V, T = TypeVar("K"), TypeVar("V"), TypeVar("T")


def _encode(t, value) -> bytes:
    out = bytearray()
    try:
        t.encode(out, value)
    except WireError as e:
        raise TypeError(f"cannot encode {value!r} as {t.rust}: {e}") from None
    return bytes(out)


def _decode(t, data: bytes):
    r = Reader(bytes(data))
    try:
        value = t.decode(r)
    except WireError as e:
        raise TypeError(f"the stored value does not decode as {t.rust}: {e}") from None
    if r.at != len(r.data):
        raise TypeError(f"the stored value does not decode as {t.rust}: {len(r.data) - r.at} bytes left over")
    return value


def _missing(err) -> bool:
    """Whether a WIT `manager-error` is `missing`; a gone object raises."""
    if type(err.value).__name__.endswith("Missing"):
        return True
    raise RuntimeError("the managed object no longer exists (the host dropped it)")


def _whole(f, *args, empty=None):
    """A call on the whole object (its length, its items, clearing it): only a gone object
    fails it."""
    try:
        return f(*args)
    except Err as e:
        _missing(e)
        return empty


class DictProxy(Generic[K, V]):
    """The host's `manager.dict()` (Rust `Dict<K, V>`): `d[k] = v`, `d[k]`, `k in d`, `len(d)`."""

    def __init__(self, handle: int, key, value):
        self.handle, self._k, self._v = handle, key, value

    @classmethod
    def _wasmproc_type(cls, args, where):
        expect(args, "DictProxy[K, V]", where)
        k, v = args
        return Shared(f"Dict<{k.rust},{v.rust}>", U64, cls, lambda h: cls(h, k, v))

    def _handle(self):
        return self.handle

    def __setitem__(self, key, value) -> None:
        wit.dict_set(self.handle, _encode(self._k, key), _encode(self._v, value))

    def __getitem__(self, key):
        try:
            return _decode(self._v, wit.dict_get(self.handle, _encode(self._k, key)))
        except Err as e:
            _missing(e)
            raise KeyError(key) from None

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def pop(self, key, *default):
        """Removes `key` and returns its value (`default`, or `KeyError`, if unset)."""
        try:
            return _decode(self._v, wit.dict_remove(self.handle, _encode(self._k, key)))
        except Err as e:
            _missing(e)
            if default:
                return default[0]
            raise KeyError(key) from None

    def __delitem__(self, key) -> None:
        self.pop(key)

    def __contains__(self, key) -> bool:
        return _whole(wit.dict_contains, self.handle, _encode(self._k, key), empty=False)

    def __len__(self) -> int:
        return _whole(wit.dict_len, self.handle, empty=0)

    def clear(self) -> None:
        _whole(wit.dict_clear, self.handle)

    def items(self) -> list:
        """A copy of the entries, in insertion order."""
        entries = _whole(wit.dict_items, self.handle, empty=[])
        return [(_decode(self._k, k), _decode(self._v, v)) for k, v in entries]

    def keys(self) -> list:
        return [k for k, _ in self.items()]

    def values(self) -> list:
        return [v for _, v in self.items()]

    def __iter__(self):
        return iter(self.keys())

    def update(self, other=(), **kwargs) -> None:
        for k, v in dict(other, **kwargs).items():
            self[k] = v

    def copy(self) -> dict:
        """A plain dict with the entries now (Python's `_getvalue()`)."""
        return dict(self.items())

    def __repr__(self):
        return f"<DictProxy {self.copy()!r}>"


class ListProxy(Generic[T]):
    """The host's `manager.list()` (Rust `List<T>`): `append`, `l[i]`, `l[i] = x`, `pop()`,
    `len(l)`, iteration over a copy."""

    def __init__(self, handle: int, item):
        self.handle, self._t = handle, item

    @classmethod
    def _wasmproc_type(cls, args, where):
        expect(args, "ListProxy[T]", where)
        (t,) = args
        return Shared(f"List<{t.rust}>", U64, cls, lambda h: cls(h, t))

    def _handle(self):
        return self.handle

    def append(self, item) -> None:
        wit.list_append(self.handle, _encode(self._t, item))

    def extend(self, items) -> None:
        for item in items:
            self.append(item)

    def _index(self, i) -> int:
        if not isinstance(i, int):
            raise TypeError("list indices are ints")
        return i + len(self) if i < 0 else i

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.copy()[i]
        j = self._index(i)
        try:
            if j < 0:
                raise IndexError("list index out of range")
            return _decode(self._t, wit.list_get(self.handle, j))
        except Err as e:
            _missing(e)
            raise IndexError("list index out of range") from None

    def __setitem__(self, i, item) -> None:
        j = self._index(i)
        try:
            if j < 0:
                raise IndexError("list assignment index out of range")
            wit.list_set(self.handle, j, _encode(self._t, item))
        except Err as e:
            _missing(e)
            raise IndexError("list assignment index out of range") from None

    def pop(self, index: int = -1):
        """Removes and returns the last item (only the last: the host's list pops from its end)."""
        if index != -1:
            raise ValueError("a managed list pops its last item only")
        try:
            return _decode(self._t, wit.list_pop(self.handle))
        except Err as e:
            _missing(e)
            raise IndexError("pop from empty list") from None

    def __len__(self) -> int:
        return _whole(wit.list_len, self.handle, empty=0)

    def copy(self) -> list:
        """A plain list with the items now."""
        items = _whole(wit.list_items, self.handle, empty=[])
        return [_decode(self._t, b) for b in items]

    def __iter__(self):
        return iter(self.copy())

    def __repr__(self):
        return f"<ListProxy {self.copy()!r}>"


_INFERRED = {bool: Bool(), int: Int(), float: Float(), str: Str(), bytes: Bytes(), type(None): Unit()}


class Namespace:
    """The host's `manager.namespace()`: named values of any type. Values carry no type on the
    wire, so a read names it: `ns.get("answer", int)`; a write infers it for `bool`, `int`,
    `float`, `str`, `bytes` and `None`, and otherwise takes it: `ns.set("xs", [1, 2], list[int])`.
    """

    def __init__(self, handle: int):
        self._dict = DictProxy(handle, Str(), Bytes())

    @classmethod
    def _wasmproc_type(cls, args, where):
        expect(args, "Namespace", where)
        return Shared("Namespace", U64, cls, cls)

    def _handle(self):
        return self._dict.handle

    def set(self, name: str, value, type=None) -> None:
        """Sets attribute `name` to `value`, encoded as `type` (inferred for plain values)."""
        if type is None:
            t = _INFERRED.get(value.__class__)
            if t is None:
                raise TypeError(f"say what {name} is: ns.set({name!r}, value, list[int]) (any task annotation)")
        else:
            t = of(type, f"namespace attribute {name}")
        self._dict[name] = _encode(t, value)

    def get(self, name: str, type, default=None):
        """Attribute `name` decoded as `type` (`default` if unset; `TypeError` if it was set as
        another type)."""
        data = self._dict.get(name)
        return default if data is None else _decode(of(type, f"namespace attribute {name}"), data)

    def __contains__(self, name: str) -> bool:
        return name in self._dict
