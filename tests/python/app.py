"""The Python fixtures: tasks the integration tests run through the CLI and the typed Rust API
(built from this source by the tests with componentize-py)."""

import collections
import datetime
import hashlib
import itertools
import json
import math
import random
import re
import struct
import time

from wasmproc_guest import (
    Array,
    Barrier,
    Closed,
    Condition,
    Connection,
    DictProxy,
    Event,
    Guest,
    JoinableQueue,
    ListProxy,
    Lock,
    Namespace,
    Queue,
    Semaphore,
    SharedMemory,
    Value,
    current_process,
    f32,
    i8,
    i32,
    task,
    u8,
    u32,
    u64,
)


@task
def square(x: int) -> int:
    """The square of x."""
    return x * x


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def describe(name: str, xs: list[int]) -> tuple[str, int]:
    """A name and the sum of its numbers."""
    return (name.upper(), sum(xs))


@task
def stats(xs: list[float]) -> tuple[float, float] | None:
    """The least and greatest number, or None for none."""
    if not xs:
        return None
    return (min(xs), max(xs))


@task
def flags(d: dict[str, bool], raw: bytes) -> list[str]:
    """The keys set to true, then the bytes as hex."""
    return [k for k, v in d.items() if v] + [raw.hex()]


@task
def fail(x: int) -> int:
    raise ValueError(f"{x} is not welcome")


@task
def stop(x: int) -> int:
    raise SystemExit(x)


@task
def too_big(x: int) -> int:
    return x * 2**70


@task
def put_squares(q: Queue[int | None], n: int) -> int:
    """Puts the squares of 0..n on q."""
    for i in range(n):
        q.put(i * i)
    return n


@task
def total(q: Queue[int | None]) -> int:
    """Sums items from q until None arrives."""
    s = 0
    while (x := q.get()) is not None:
        s += x
    return s


@task
def whoami() -> tuple[str, int, int, int]:
    p = current_process()
    return (p.name, p.pid, p.worker_id, p.parent_pid)


@task
def stdlib() -> list[str]:
    """A bit of each standard module the guide (docs/python.md) says works."""
    return [
        json.dumps({"a": 1}),
        re.sub("b", "c", "abc"),
        str(math.isqrt(17)),
        hashlib.sha256(b"x").hexdigest()[:8],
        str(collections.Counter("aab")["a"]),
        str(list(itertools.accumulate([1, 2, 3]))),
        struct.pack("<I", 7).hex(),
        str(0 <= random.random() < 1),
        str(datetime.date(2026, 11, 30).isoweekday()),
        str(time.time() > 1e9),
    ]


@task
def late_import() -> str:
    """Imports a module only when it runs: it was not kept at build time."""
    import fractions

    return str(fractions.Fraction(1, 3))


# The shared objects, mirroring the Rust fixtures of the same names (tests/fixtures): the tests
# run both on the same objects.


@task
def sized(a: u64, b: i8, c: f32, d: list[u8]) -> tuple[u64, i8, f32, int]:
    """Sized numbers cross as the Rust types they name."""
    return (a, b, c, sum(d))


@task
def add_with_lock(counter: Value[i32], lock: Lock, n: u32) -> None:
    """Adds 1 to counter n times, each under lock."""
    for _ in range(n):
        with lock:
            counter.value += 1


@task
def add_one_fused(v: Value[int], n: u32) -> None:
    """v.add(1), n times: one host call each."""
    for _ in range(n):
        v.add(1)


@task
def modify_shared(num: Value[float], arr: Array[i32]) -> None:
    """The tutorial's modify_shared: sets num, doubles every item of arr."""
    num.value = 3.1415926
    for i in range(len(arr)):
        arr[i] = arr[i] * 2


@task
def send_all(conn: Connection[str], messages: list[str]) -> int:
    """Sends the messages, then closes its end."""
    for m in messages:
        conn.send(m)
    conn.close()
    return len(messages)


@task
def collect(conn: Connection[str]) -> list[str]:
    """Receives until end of file."""
    got = []
    while True:
        try:
            got.append(conn.recv())
        except EOFError:
            return got


@task
def doubler(conn: Connection[u64]) -> u64:
    """Answers each number with its double until end of file; returns how many it answered."""
    n = 0
    while conn.poll(None):
        try:
            x = conn.recv()
        except EOFError:
            break
        conn.send(x * 2)
        n += 1
    return n


@task
def joinable_worker(jobs: JoinableQueue[u64], results: Queue[u64]) -> u64:
    """Takes items, records their doubles, marks each done, until the queue is closed."""
    n = 0
    while True:
        try:
            x = jobs.get()
        except Closed:
            return n
        results.put(x * 2)
        jobs.task_done()
        n += 1


@task
def shm_mark(shm: SharedMemory, at: u32, byte: u8) -> bytes:
    """Writes byte at at, then returns the whole region."""
    shm.buf[at] = byte
    return shm.buf[:]


@task
def barrier_wait(barrier: Barrier) -> u32:
    return barrier.wait(30)


@task
def arrive_and_wait_event(event: Event, arrived: Value[i32], ms: u64) -> bool:
    """Counts itself in arrived, then waits up to ms for event."""
    arrived.add(1)
    return event.wait(ms / 1000)


@task
def use_permit(sem: Semaphore, active: Value[i32], peak: Value[i32], ms: u64) -> None:
    """Holds a permit for ms, counting how many hold one at once."""
    with sem:
        now = active.add(1)
        with peak.get_lock():
            peak.value = max(peak.value, now)
        time.sleep(ms / 1000)
        active.add(-1)


@task
def wait_for_value(cond: Condition, value: Value[i32], target: i32) -> i32:
    with cond:
        cond.wait_for(lambda: value.value >= target)
        return value.value


@task
def try_lock_for(lock: Lock, ms: u64) -> str:
    if not lock.acquire(timeout=ms / 1000):
        return "timed out"
    lock.release()
    return "acquired"


@task
def manager_worker(d: DictProxy[u32, u32], items: ListProxy[u32], lock: Lock, id: u32) -> None:
    """The tutorial's Manager worker."""
    with lock:
        d[id] = id * 10
        items.append(id)


@task
def manager_misc(ns: Namespace, items: ListProxy[str]) -> str:
    """Reads and writes a namespace and a list."""
    greeting = ns.get("greeting", str)
    ns.set("answer", 42, u32)
    popped = items.pop()
    try:
        items[100] = "x"
        missing = ""
    except IndexError as e:
        missing = str(e)
    return f"{greeting} {popped} {missing} {len(items)}"
