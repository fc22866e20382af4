"""Write wasmproc tasks in Python.

```python
from wasmproc_guest import Guest, task  # Guest: what the component exports

@task
def square(x: int) -> int:
    return x * x
```

Build with `wasmproc build` (componentize-py), run with `wasmproc run/map` or the Rust API. The
names mirror Python's `multiprocessing` and the Rust SDK's: `current_process()`, `Queue`,
`JoinableQueue`, `Connection` (a pipe end), `Value`, `Array`, `SharedMemory`, the locks of
`multiprocessing.synchronize`, and the `Manager()` proxies. Each is passed to a task by the host
and declared by annotating a parameter with it.
"""

from dataclasses import dataclass

from . import _registry
from ._types import f32, f64, i8, i16, i32, i64, u8, u16, u32, u64
from .connection import Connection
from .managers import DictProxy, ListProxy, Namespace
from .queue import Closed, JoinableQueue, Queue
from .shared_memory import SharedMemory
from .sharedctypes import Array, Value
from .synchronize import Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore

__all__ = [
    "Guest",
    "task",
    "current_process",
    "ProcessInfo",
    "Queue",
    "JoinableQueue",
    "Closed",
    "Connection",
    "Value",
    "Array",
    "SharedMemory",
    "Lock",
    "RLock",
    "Semaphore",
    "BoundedSemaphore",
    "Event",
    "Condition",
    "Barrier",
    "DictProxy",
    "ListProxy",
    "Namespace",
    "i8",
    "i16",
    "i32",
    "i64",
    "u8",
    "u16",
    "u32",
    "u64",
    "f32",
    "f64",
]


def task(func):
    """Makes `func` a task of this module. Every parameter and the result need annotations (see
    `wasmproc_guest._types` for how they map to the types a Rust host uses)."""
    _registry.register(func)
    return func


@dataclass(frozen=True)
class ProcessInfo:
    """Who runs this task: `multiprocessing.current_process()`."""

    name: str
    pid: int
    worker_id: int
    parent_pid: int


def current_process() -> ProcessInfo:
    """The worker running this task (its name, pid, slot in the pool, and the host's pid)."""
    p = _process.current()
    return ProcessInfo(p.name, p.pid, p.worker_id, p.parent_pid)


try:
    from wit_world import exports as _exports
    from wit_world.imports import process as _process

    from . import _dispatch
except ImportError:  # imported outside a component build (e.g. by a type checker)
    _exports = None

if _exports is not None:

    class Guest(_exports.Guest):
        """The component's export; import it into your app module (`from wasmproc_guest import
        Guest, task`) so componentize-py finds it."""

        def tasks(self):
            return _dispatch.tasks()

        def run(self, task, codec, args, lens):
            _dispatch.run(task, codec, args, lens)
