"""The Pool examples of the Python multiprocessing tutorials this project follows, as wasmproc tasks
written in Python: the same functions, each run by `wasmproc map`/`run` (or a Rust host's `Pool`)
instead of `multiprocessing.Pool`. The Rust twins are in `examples/tasks`. See README.md here for
the commands.
"""

import time

from wasmproc_guest import Guest, task


@task
def square(x: int) -> int:
    """`pool.map(square, range(10))`"""
    return x * x


@task
def slow_square(x: int) -> int:
    """The tutorial's square with simulated work: `time.sleep(0.5)`."""
    time.sleep(0.5)
    return x * x


@task
def cube(n: int) -> int:
    """`with Pool() as pool: pool.map(cube, numbers)`"""
    return n * n * n


@task
def process_data(data: int) -> int:
    """`Pool(processes=4).map(process_data, range(10))`"""
    return data * 2


@task
def add(a: int, b: int) -> int:
    """`pool.starmap(add, [(1, 2), (3, 4)])`"""
    return a + b


@task
def compute_heavy(n: int) -> int:
    """`Pool(cpu_count()).map(compute_heavy, [10**6] * 8)`"""
    return sum(i**2 for i in range(n))


@task
def process_record(record: tuple[int, int]) -> tuple[int, int, str]:
    """A map over records `(id, value)`: `(id, value ** 2, 'high' if value > 50 else 'low')`."""
    record_id, value = record
    return (record_id, value**2, "high" if value > 50 else "low")
