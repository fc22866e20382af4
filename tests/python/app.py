"""The Python fixtures: tasks the integration tests run through the CLI and the typed Rust API
(built from this source by the tests with componentize-py)."""

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
