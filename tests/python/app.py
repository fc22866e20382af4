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

from wasmproc_guest import Guest, Queue, current_process, task


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
