//! The example tasks. Each is the twin of a Python function from the multiprocessing tutorials;
//! the Python is quoted above it.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use wasmproc_guest::task;

/// `def square(x): return x * x`
#[task]
fn square(x: u64) -> u64 {
    x * x
}

/// `def square(x): time.sleep(0.5); return x * x` — the tutorial's version with simulated work.
#[task]
fn slow_square(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(500));
    x * x
}

/// `def cube(n): return n * n * n`
#[task]
fn cube(n: i64) -> i64 {
    n * n * n
}

/// `def process_data(data): return data * 2`
#[task]
fn process_data(data: i64) -> i64 {
    data * 2
}

/// `def add(a, b): return a + b`
#[task]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// The tutorial passes `{'value': i}` dicts; here it is a struct.
#[derive(Serialize, Deserialize)]
pub struct Item {
    value: i64,
}

/// `def process_item(item): return item['value'] * 2`
#[task]
fn process_item(item: Item) -> i64 {
    item.value * 2
}

/// `def task(msg): print(f"Start: {msg}"); time.sleep(2); return f"End: {msg}"`
#[task]
fn task(msg: String) -> String {
    println!("Start: {msg}");
    std::thread::sleep(Duration::from_secs(2));
    format!("End: {msg}")
}

/// `def compute_heavy(n): return sum(i ** 2 for i in range(n))`
#[task]
fn compute_heavy(n: u64) -> u64 {
    let mut result: u64 = 0;
    // black_box keeps LLVM from replacing the loop by a closed form: like Python's loop, this
    // really runs n iterations.
    for i in 0..n {
        let i = std::hint::black_box(i);
        result = result.wrapping_add(i.wrapping_mul(i));
    }
    result
}

/// A record of the tutorial's `parallel_process` example.
#[derive(Serialize, Deserialize)]
pub struct Record {
    id: u64,
    value: i64,
}

/// What `process_record` returns.
#[derive(Serialize, Deserialize)]
pub struct Processed {
    id: u64,
    processed: i64,
    category: String,
}

/// `def process_record(record): return {'id': …, 'processed': value ** 2, 'category': 'high' if value > 50 else 'low'}`
#[task]
fn process_record(record: Record) -> Processed {
    Processed {
        id: record.id,
        processed: record.value * record.value,
        category: if record.value > 50 { "high" } else { "low" }.to_string(),
    }
}

// ---- Process examples -------------------------------------------------------------------------

/// `def worker(name): print(f"Worker {name}, PID: {os.getpid()}, Parent PID: {os.getppid()}")`
#[task]
fn worker(name: String) {
    let me = wasmproc_guest::current_process();
    println!("Worker {name}, PID: {}, Parent PID: {}", me.pid, me.parent_pid);
}

/// `def func(): print("This is a function running in a separate process.")`
#[task]
fn func() {
    println!("This is a function running in a separate process.");
}

/// `def calculate_square(nums): for n in nums: print(f'{n}的平方是{n**2}')`
#[task]
fn calculate_square(nums: Vec<i64>) {
    for n in nums {
        println!("{n}的平方是{}", n * n);
    }
}

/// The body of the tutorial's `MyProcess.run`: `print(f"Process {self.name} is running")`.
#[task]
fn run() {
    println!("Process {} is running", wasmproc_guest::current_process().name);
}

/// `def task(): proc = current_process(); print(name, pid); time.sleep(1)`
#[task]
fn show_attributes() {
    let proc = wasmproc_guest::current_process();
    println!("Name: {}", proc.name);
    println!("PID: {}", proc.pid);
    std::thread::sleep(Duration::from_secs(1));
}

/// `def cpu_heavy_task(): while True: pass`
#[task]
fn cpu_heavy_task() {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

// ---- Sandboxed file processing ----------------------------------------------------------------

/// What `process_file` reports: the hash, or why the file could not be read.
#[derive(Serialize, Deserialize)]
pub struct FileReport {
    path: String,
    size: Option<usize>,
    hash: Option<String>,
    error: Option<String>,
}

/// ```python
/// def process_file(filepath):
///     try:
///         with open(filepath, 'rb') as f:
///             content = f.read()
///             return {'path': str(filepath), 'size': len(content), 'hash': hashlib.md5(content).hexdigest()}
///     except Exception as e:
///         return {'path': str(filepath), 'error': str(e)}
/// ```
#[task]
fn process_file(filepath: String) -> FileReport {
    use md5::{Digest, Md5};
    match std::fs::read(&filepath) {
        Ok(content) => FileReport {
            size: Some(content.len()),
            hash: Some(format!("{:x}", Md5::digest(&content))),
            path: filepath,
            error: None,
        },
        Err(e) => FileReport { path: filepath, size: None, hash: None, error: Some(e.to_string()) },
    }
}

// ---- Queue examples ---------------------------------------------------------------------------

use wasmproc_guest::Queue;

/// `def square(numbers, q): for n in numbers: q.put(n * n)`
#[task]
fn square_into(numbers: Vec<i64>, q: Queue<i64>) {
    for n in numbers {
        q.put(n * n).expect("queue open");
    }
}

/// ```python
/// def producer(queue, items):
///     for item in items:
///         print(f"Producing: {item}"); queue.put(item); time.sleep(0.1)
///     queue.put(None)  # 结束信号
/// ```
#[task]
fn producer(queue: Queue<Option<i64>>, items: Vec<i64>) {
    for item in items {
        println!("Producing: {item}");
        queue.put(Some(item)).expect("queue open");
        std::thread::sleep(Duration::from_millis(100));
    }
    queue.put(None).expect("queue open");
}

/// ```python
/// def consumer(queue):
///     while True:
///         item = queue.get()
///         if item is None: break
///         print(f"Consuming: {item}"); time.sleep(0.2)
/// ```
#[task]
fn consumer(queue: Queue<Option<i64>>) {
    while let Ok(Some(item)) = queue.get() {
        println!("Consuming: {item}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---- Pipe example -----------------------------------------------------------------------------

use wasmproc_guest::{Connection, RecvError};

/// ```python
/// def sender(conn):
///     for msg in ['Hello', 'World', 'Done']:
///         conn.send(msg); print(f"Sent: {msg}")
///     conn.close()
/// ```
#[task]
fn sender(conn: Connection<String>) {
    for msg in ["Hello", "World", "Done"] {
        conn.send(msg.to_string()).expect("pipe open");
        println!("Sent: {msg}");
    }
    conn.close();
}

/// ```python
/// def receiver(conn):
///     while True:
///         try:
///             msg = conn.recv(); print(f"Received: {msg}")
///             if msg == 'Done': break
///         except EOFError:
///             break
///     conn.close()
/// ```
#[task]
fn receiver(conn: Connection<String>) {
    loop {
        match conn.recv() {
            Ok(msg) => {
                println!("Received: {msg}");
                if msg == "Done" {
                    break;
                }
            }
            Err(RecvError::Eof) => break,
            Err(e) => panic!("{e}"),
        }
    }
    conn.close();
}

// ---- Producers and consumers stopped by an Event ------------------------------------------------

use wasmproc_guest::Event;

/// ```python
/// def producer(queue, stop_event, producer_id):
///     while not stop_event.is_set():
///         item = random.randint(1, 100); queue.put((producer_id, item))
///         print(f"Producer {producer_id} produced: {item}")
///         time.sleep(random.uniform(0.1, 0.5))
/// ```
#[task]
fn stoppable_producer(queue: Queue<(u32, u32)>, stop_event: Event, producer_id: u32) -> u32 {
    let mut seed = producer_id.wrapping_mul(2654435761).wrapping_add(1);
    let mut made = 0;
    while !stop_event.is_set() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let item = 1 + seed % 100;
        // A full queue is waited on, but never past the stop signal.
        let mut pending = Some((producer_id, item));
        while let Some(it) = pending.take() {
            match queue.put_timeout(it, Duration::from_millis(100)) {
                Ok(()) => {
                    made += 1;
                    println!("Producer {producer_id} produced: {item}");
                }
                Err(e) if !stop_event.is_set() => pending = Some(e.into_inner()),
                Err(_) => return made,
            }
        }
        stop_event.wait_timeout(Duration::from_millis(100 + u64::from(seed % 400)));
    }
    made
}

/// ```python
/// def consumer(queue, stop_event, consumer_id):
///     while not stop_event.is_set() or not queue.empty():
///         try:
///             producer_id, item = queue.get(timeout=1)
///             print(f"Consumer {consumer_id} consumed: {item} from Producer {producer_id}")
///             time.sleep(random.uniform(0.2, 0.4))
///         except: continue
/// ```
#[task]
fn stoppable_consumer(queue: Queue<(u32, u32)>, stop_event: Event, consumer_id: u32) -> u32 {
    let mut taken = 0;
    while !stop_event.is_set() || !queue.is_empty() {
        if let Ok((producer_id, item)) = queue.get_timeout(Duration::from_secs(1)) {
            taken += 1;
            println!("Consumer {consumer_id} consumed: {item} from Producer {producer_id}");
            std::thread::sleep(Duration::from_millis(200 + u64::from(item % 200)));
        }
    }
    taken
}

// ---- Shared memory and synchronization ----------------------------------------------------------

use wasmproc_guest::{Array, Dict, List, Lock, Semaphore, Value};

/// ```python
/// def modify_shared(n, arr):
///     n.value = 3.1415926
///     for i in range(len(arr)):
///         arr[i] *= 2
/// ```
#[task]
fn modify_shared(n: Value<f64>, arr: Array<i32>) {
    n.set(3.1415926);
    for i in 0..arr.len() {
        arr.set(i, arr.get(i).unwrap() * 2).unwrap();
    }
}

/// ```python
/// def increment(lock, counter):
///     for _ in range(1000):
///         lock.acquire(); counter.value += 1; lock.release()
/// ```
#[task]
fn increment(lock: Lock, counter: Value<i32>) {
    for _ in 0..1000 {
        let held = lock.acquire().unwrap();
        counter.set(counter.get() + 1);
        drop(held);
    }
}

/// The unsafe version: `counter.value += 1` with no lock, and `array[i] += 1`. All four start
/// at `go`, so their loops really overlap (a Python interpreter is slow enough to overlap anyway).
#[task]
fn increment_unlocked(counter: Value<i32>, array: Array<f64>, go: Event) {
    go.wait();
    for _ in 0..1000 {
        let v = counter.get();
        // Widen the window between the read and the write, as CPython's interpreter does.
        std::hint::black_box((0..200).fold(v, |a, x| a ^ x));
        counter.set(v + 1);
    }
    for i in 0..array.len() {
        array.set(i, array.get(i).unwrap() + 1.0).unwrap();
    }
}

/// ```python
/// def withdraw(balance, lock):
///     with lock:
///         balance.value -= 1
/// ```
#[task]
fn withdraw(balance: Value<i32>, lock: Lock) {
    let _held = lock.acquire().unwrap();
    balance.set(balance.get() - 1);
}

/// ```python
/// def task_with_lock(lock, name):
///     print(f"{name} waiting for lock")
///     with lock:
///         print(f"{name} acquired lock")
///     print(f"{name} released lock")
/// ```
#[task]
fn task_with_lock(lock: Lock, name: String) {
    println!("{name} waiting for lock");
    {
        let _held = lock.acquire().unwrap();
        println!("{name} acquired lock");
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("{name} released lock");
}

/// ```python
/// def limited_resource(sem, name):
///     with sem:
///         print(f"{name} acquired semaphore"); time.sleep(1); print(f"{name} released semaphore")
/// ```
#[task]
fn limited_resource(sem: Semaphore, name: String) {
    let _permit = sem.acquire();
    println!("{name} acquired semaphore");
    std::thread::sleep(Duration::from_secs(1));
    println!("{name} released semaphore");
}

/// ```python
/// def waiter(event, name):
///     print(f"{name} waiting for event"); event.wait(); print(f"{name} event received!")
/// ```
#[task]
fn waiter(event: Event, name: String) {
    println!("{name} waiting for event");
    event.wait();
    println!("{name} event received!");
}

/// ```python
/// def setter(event):
///     print("Setting event in 2 seconds..."); time.sleep(2); event.set()
/// ```
#[task]
fn setter(event: Event) {
    println!("Setting event in 2 seconds...");
    std::thread::sleep(Duration::from_secs(2));
    event.set();
}

/// ```python
/// def worker(shared_dict, shared_list, lock, worker_id):
///     with lock:
///         shared_dict[worker_id] = worker_id * 10
///         shared_list.append(worker_id)
/// ```
#[task]
fn manager_worker(shared_dict: Dict<u32, u32>, shared_list: List<u32>, lock: Lock, worker_id: u32) {
    let _held = lock.acquire().unwrap();
    shared_dict.insert(worker_id, worker_id * 10).unwrap();
    shared_list.append(worker_id).unwrap();
}
