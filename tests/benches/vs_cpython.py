"""CPython's multiprocessing on the workloads of vs_cpython.rs; prints one JSON object.

Run by `cargo bench -p wasmproc-tests` (not meant to be run alone, but it works:
`python3 vs_cpython.py '{"startup_reps": 5, ...}'`).
"""
import json
import multiprocessing as mp
import statistics
import sys
import time


def square(x):
    return x * x


def compute_heavy(n):
    result = 0
    for i in range(n):
        result += i ** 2
    return result


def empty():
    pass


def process_roundtrip(method, reps):
    ctx = mp.get_context(method)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        p = ctx.Process(target=empty)
        p.start()
        p.join()
        times.append(time.perf_counter() - t)
        assert p.exitcode == 0
    return statistics.median(times)


def startup(method, reps):
    ctx = mp.get_context(method)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        with ctx.Pool(2) as pool:
            pool.apply(square, (3,))
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def median_time(reps, fn):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    cfg = json.loads(sys.argv[1])
    reps = cfg["reps"]
    out = {"python": sys.version.split()[0]}
    out["startup_fork_s"] = startup("fork", cfg["startup_reps"])
    out["startup_spawn_s"] = startup("spawn", cfg["startup_reps"])
    out["process_fork_s"] = process_roundtrip("fork", cfg["startup_reps"])
    out["process_spawn_s"] = process_roundtrip("spawn", cfg["startup_reps"])
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(square, range(1000))  # warm
        n = cfg["map_items"]
        out["map_default_items_per_s"] = n / median_time(reps, lambda: pool.map(square, range(n)))
        n1 = cfg["map1_items"]
        out["map_chunk1_items_per_s"] = n1 / median_time(reps, lambda: pool.map(square, range(n1), chunksize=1))
        na = cfg["apply_reps"]

        def applies():
            for i in range(na):
                pool.apply_async(square, (i,)).get()

        out["apply_async_rtt_s"] = median_time(reps, applies) / na
        numbers = [cfg["heavy_n"]] * cfg["heavy_items"]
        out["heavy_serial_s"] = median_time(reps, lambda: [compute_heavy(x) for x in numbers])
        out["heavy_parallel_s"] = median_time(reps, lambda: pool.map(compute_heavy, numbers))
        serial = [compute_heavy(x) for x in numbers]
        assert serial == pool.map(compute_heavy, numbers)
        out["heavy_result"] = serial[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
