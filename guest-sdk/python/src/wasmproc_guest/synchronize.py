"""Python's `multiprocessing` locks inside a task: `Lock`, `RLock`, `Semaphore`,
`BoundedSemaphore`, `Event`, `Condition` and `Barrier` that the host created, passed as arguments
annotated with these classes. The waiting happens in the worker, on the shared words, and honours
the task's timeout; `with lock:` works as in Python.

Differences from Python, all from the objects being shared across processes that may die:
- a lock whose holder died is still acquired, and `previous_owner_died` is then true until the
  next acquire: what it guards may be half-updated;
- releasing a lock that is not held raises `ValueError` (Python's `Lock` does too).
"""

import threading
import time

from ._region import Obj
from ._types import OBJECT_HANDLE, Shared, expect, timeout_ms

try:  # the generated bindings exist only inside a component build
    from componentize_py_types import Err
    from wit_world.imports import sync as wit
except ImportError:
    Err = wit = None


def _kind(err) -> str:
    """The name of a WIT `sync-error` case: "Timeout", "NotHeld", "TooManyReleases", "Broken"."""
    return type(err.value).__name__.rpartition("_")[2]


def _fatal(err):
    """A region failure in an object the host built is a broken handle: say so loudly."""
    return RuntimeError(f"synchronization object unusable: {err.value}")


class _Object:
    """An object at an offset in a shared region."""

    _rust = ""

    def __init__(self, obj: Obj):
        self._obj = obj

    @classmethod
    def _wasmproc_type(cls, args, where):
        expect(args, cls.__name__, where)
        return Shared(cls._rust or cls.__name__, OBJECT_HANDLE, cls, lambda h: cls(Obj(h)))

    def _handle(self):
        return self._obj.handle()

    def _at(self):
        return self._obj.region, self._obj.offset

    def __repr__(self):
        return f"<{type(self).__name__} at {self._obj!r}>"


class _Held(_Object):
    """An object with a lock at its offset: `acquire`, `release`, `with`. `_acquire` and
    `_release` name its interface calls; `_not_held` is the exception a release without it raises."""

    _acquire, _release = "lock_acquire", "lock_release"
    _not_held = (ValueError, "lock released while not held")
    previous_owner_died = False

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        """Takes the lock; False if `block` is false and it is held, or after `timeout` seconds."""
        try:
            got = getattr(wit, self._acquire)(*self._at(), timeout_ms(block, timeout))
        except Err as e:
            if _kind(e) == "Timeout":
                return False
            raise _fatal(e) from None
        self.previous_owner_died = got == wit.Acquired.OWNER_DIED
        return True

    def release(self) -> None:
        """Releases the lock (`_not_held` if it is not held)."""
        try:
            getattr(wit, self._release)(*self._at())
        except Err as e:
            if _kind(e) == "NotHeld":
                kind, message = self._not_held
                raise kind(message) from None
            raise _fatal(e) from None

    def __enter__(self):
        self.acquire()
        return True

    def __exit__(self, *exc):
        self.release()


class Lock(_Held):
    """The host's `wasmproc::Lock` — `multiprocessing.Lock`; releasing it while not held raises
    `ValueError`."""


class RLock(Lock):
    """The host's `wasmproc::RLock`: this task's worker may acquire it again, and must release it
    as many times."""

    _acquire, _release = "rlock_acquire", "rlock_release"


class Semaphore(_Object):
    """The host's `wasmproc::Semaphore` (or bounded one)."""

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        """Takes a permit; False if none came (at once if `block` is false, else within
        `timeout` seconds)."""
        try:
            wit.semaphore_acquire(*self._at(), timeout_ms(block, timeout))
            return True
        except Err as e:
            if _kind(e) == "Timeout":
                return False
            raise _fatal(e) from None

    def release(self) -> None:
        """Gives a permit back (`ValueError` past a bounded semaphore's bound)."""
        try:
            wit.semaphore_release(*self._at())
        except Err as e:
            if _kind(e) == "TooManyReleases":
                raise ValueError("semaphore released too many times") from None
            raise _fatal(e) from None

    def get_value(self) -> int:
        """The free permits now."""
        try:
            return wit.semaphore_value(*self._at())
        except Err as e:
            raise _fatal(e) from None

    def __enter__(self):
        self.acquire()
        return True

    def __exit__(self, *exc):
        self.release()


class BoundedSemaphore(Semaphore):
    """Python's `BoundedSemaphore`: the host's `Semaphore` made with a bound."""

    _rust = "Semaphore"


class Event(_Object):
    """The host's `wasmproc::Event`."""

    def set(self) -> None:
        """Sets the flag and wakes every waiter."""
        self._call(wit.event_set)

    def clear(self) -> None:
        """Clears the flag."""
        self._call(wit.event_clear)

    def is_set(self) -> bool:
        """Whether the flag is set."""
        return self._call(wit.event_is_set)

    def wait(self, timeout: float | None = None) -> bool:
        """Waits until the flag is set, at most `timeout` seconds; returns whether it is."""
        return self._call(wit.event_wait, timeout_ms(True, timeout))

    def _call(self, f, *args):
        try:
            return f(*self._at(), *args)
        except Err as e:
            raise _fatal(e) from None


class Condition(_Held):
    """The host's `wasmproc::Condition`, with its own (recursive) lock."""

    _acquire, _release = "rlock_acquire", "rlock_release"
    _not_held = (RuntimeError, "cannot release un-acquired lock")

    def wait(self, timeout: float | None = None) -> bool:
        """Releases the lock, waits for a notify (at most `timeout` seconds), takes the lock back;
        False if it timed out."""
        try:
            return wit.condition_wait(*self._at(), timeout_ms(True, timeout))
        except Err as e:
            if _kind(e) == "NotHeld":
                raise RuntimeError("cannot wait on un-acquired lock") from None
            raise _fatal(e) from None

    def wait_for(self, predicate, timeout: float | None = None):
        """Waits until `predicate()` is true (checked under the lock), at most `timeout` seconds;
        returns its last value."""
        deadline = None if timeout is None else time.monotonic() + timeout
        result = predicate()
        while not result:
            if deadline is None:
                self.wait()
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.wait(left)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wakes up to `n` waiters."""
        try:
            wit.condition_notify(*self._at(), min(n, 0xFFFFFFFF))
        except Err as e:
            if _kind(e) == "NotHeld":
                raise RuntimeError("cannot notify on un-acquired lock") from None
            raise _fatal(e) from None

    def notify_all(self) -> None:
        """Wakes every waiter."""
        self.notify(0xFFFFFFFF)


class Barrier(_Object):
    """The host's `wasmproc::Barrier`; a broken barrier raises `threading.BrokenBarrierError`."""

    def wait(self, timeout: float | None = None) -> int:
        """Waits until all parties wait; returns this caller's arrival index. A timeout breaks the
        barrier for everyone."""
        try:
            return wit.barrier_wait(*self._at(), timeout_ms(True, timeout))
        except Err as e:
            if _kind(e) in ("Timeout", "Broken"):
                raise threading.BrokenBarrierError from None
            raise _fatal(e) from None

    def abort(self) -> None:
        """Breaks the barrier."""
        try:
            wit.barrier_abort(*self._at())
        except Err as e:
            raise _fatal(e) from None

    def reset(self) -> None:
        """Makes the barrier usable again."""
        try:
            wit.barrier_reset(*self._at())
        except Err as e:
            raise _fatal(e) from None
