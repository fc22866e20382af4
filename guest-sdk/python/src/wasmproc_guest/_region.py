"""A shared region as a task reaches it: mapped into its worker by name (`shm.attach`, once per
worker: the host keeps the number), then used by number; and the exceptions for its errors."""

try:  # the generated bindings exist only inside a component build
    from componentize_py_types import Err
    from wit_world.imports import shm as wit
except ImportError:
    Err = wit = None


def fault(err) -> Exception:
    """The Python exception for a WIT `shm-error` (the payload of an `Err`, or the `Err`)."""
    e = getattr(err, "value", err)
    name = type(e).__name__
    if name.endswith("OutOfBounds"):
        b = e.value
        return IndexError(f"{b.len} bytes at offset {b.offset} go past the end of a {b.size}-byte region")
    if name.endswith("Misaligned"):
        a = e.value
        return ValueError(f"offset {a.offset} is not a multiple of the access width {a.width}")
    return FileNotFoundError(f"shared region: {getattr(e, 'value', e)}")


def attach(name: str) -> int:
    """The number of region `name` in this worker."""
    try:
        return wit.attach(name)
    except Err as e:
        raise fault(e) from None


class Obj:
    """Where an object lives: its region (name and number here) and its offset."""

    __slots__ = ("name", "region", "offset")

    def __init__(self, handle):
        self.name, self.offset = handle
        self.region = attach(self.name)

    def handle(self):
        return (self.name, self.offset)

    def __repr__(self):
        return f"{self.name}+{self.offset}"
