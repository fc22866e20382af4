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

/// The many-producers example: puts `(producer_id, item)` pairs until the queue is closed.
#[task]
fn produce_until_closed(queue: Queue<(u32, u32)>, producer_id: u32) -> u32 {
    let mut seed = producer_id.wrapping_mul(2654435761).wrapping_add(1);
    let mut made = 0;
    loop {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let item = 1 + seed % 100;
        if queue.put((producer_id, item)).is_err() {
            return made; // closed: the stop signal
        }
        made += 1;
        println!("Producer {producer_id} produced: {item}");
        std::thread::sleep(Duration::from_millis(100 + u64::from(seed % 400)));
    }
}

/// The many-consumers example: takes pairs until the queue is closed and drained.
#[task]
fn consume_until_closed(queue: Queue<(u32, u32)>, consumer_id: u32) -> u32 {
    let mut taken = 0;
    while let Ok((producer_id, item)) = queue.get() {
        taken += 1;
        println!("Consumer {consumer_id} consumed: {item} from Producer {producer_id}");
        std::thread::sleep(Duration::from_millis(200 + u64::from(item % 200)));
    }
    taken
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
