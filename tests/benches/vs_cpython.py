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


def q_producer(q, n):
    for i in range(n):
        q.put(i)


def q_blob_producer(q, n, size):
    blob = bytes(size)
    for _ in range(n):
        q.put(blob)


def echo(conn, other_end):
    other_end.close()  # inherited through fork: without this, recv would never see EOF
    while True:
        try:
            conn.send(conn.recv())
        except EOFError:
            break


def pipe_blob_sender(conn, n, size):
    blob = bytes(size)
    for _ in range(n):
        conn.send_bytes(blob)
    conn.close()


def add_under_lock(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def dict_setter(d, n):
    for k in range(n):
        d[k] = k * k


def shared(cfg, reps):
    from multiprocessing import shared_memory

    out = {}
    ctx = mp.get_context("fork")
    n = cfg["value_adds"]

    def value_adds():
        v = ctx.Value("q", 0)
        procs = [ctx.Process(target=add_under_lock, args=(v, n)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        assert v.value == 2 * n

    out["value_adds_per_s"] = 2 * n / median_time(reps, value_adds)

    size = cfg["shm_bytes"]
    data = bytes([7]) * size
    fresh, rewrite = [], []
    for _ in range(reps):
        shm = shared_memory.SharedMemory(create=True, size=size)
        t = time.perf_counter()
        shm.buf[:size] = data
        fresh.append(time.perf_counter() - t)
        t = time.perf_counter()
        shm.buf[:size] = data
        rewrite.append(time.perf_counter() - t)
        shm.close()
        shm.unlink()
    out["shm_fresh_gb_per_s"] = size / 1e9 / statistics.median(fresh)
    out["shm_rewrite_gb_per_s"] = size / 1e9 / statistics.median(rewrite)

    nd = cfg["dict_sets"]
    with ctx.Manager() as manager:

        def dict_sets():
            d = manager.dict()
            p = ctx.Process(target=dict_setter, args=(d, nd))
            p.start()
            p.join()
            assert len(d) == nd

        out["dict_sets_per_s"] = nd / median_time(reps, dict_sets)
    return out


def ipc(cfg, reps):
    out = {}
    ctx = mp.get_context("fork")

    def queue_small():
        q = ctx.Queue()
        p = ctx.Process(target=q_producer, args=(q, cfg["q_items"]))
        p.start()
        for _ in range(cfg["q_items"]):
            q.get()
        p.join()

    out["queue_small_msgs_per_s"] = cfg["q_items"] / median_time(reps, queue_small)

    def queue_blobs():
        q = ctx.Queue()
        p = ctx.Process(target=q_blob_producer, args=(q, cfg["blob_count"], cfg["blob_size"]))
        p.start()
        for _ in range(cfg["blob_count"]):
            q.get()
        p.join()

    out["queue_blob_mb_per_s"] = cfg["blob_count"] * cfg["blob_size"] / 1e6 / median_time(reps, queue_blobs)

    parent, child = ctx.Pipe()
    p = ctx.Process(target=echo, args=(child, parent))
    p.start()
    child.close()  # the parent's copy: the child sees EOF once the parent closes its end
    n = cfg["pingpongs"]

    def pingpong():
        for i in range(n):
            parent.send(i)
            parent.recv()

    out["pipe_rtt_s"] = median_time(reps, pingpong) / n
    parent.close()
    p.join()

    def pipe_blobs():
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=pipe_blob_sender, args=(w, cfg["blob_count"], cfg["blob_size"]))
        p.start()
        w.close()
        for _ in range(cfg["blob_count"]):
            r.recv_bytes()
        p.join()

    out["pipe_blob_mb_per_s"] = cfg["blob_count"] * cfg["blob_size"] / 1e6 / median_time(reps, pipe_blobs)
    return out


def startup(method, reps):
    ctx = mp.get_context(method)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        with ctx.Pool(2) as pool:
            pool.apply(square, (3,))
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def pss_kib(pid):
    """A process's proportional set size (its share of every page it maps), in KiB."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Pss line for {pid}")


def worker_pss(method):
    """PSS of a 1-process pool's worker after it ran `square`."""
    with mp.get_context(method).Pool(1) as pool:
        pool.apply(square, (3,))
        return pss_kib(pool._pool[0].pid)


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
    out["startup_forkserver_s"] = startup("forkserver", cfg["startup_reps"])
    out["process_fork_s"] = process_roundtrip("fork", cfg["startup_reps"])
    out["process_spawn_s"] = process_roundtrip("spawn", cfg["startup_reps"])
    # The forkserver starts once (on first use, above); each Process is then a fork of it.
    out["process_forkserver_s"] = process_roundtrip("forkserver", cfg["startup_reps"])
    out["worker_pss_fork_kib"] = worker_pss("fork")
    out["worker_pss_spawn_kib"] = worker_pss("spawn")
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
    out.update(ipc(cfg, reps))
    out.update(shared(cfg, cfg["reps"]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
