//! Pipes between the host and guests.

use crate::common::{ctx, fixtures};
use std::time::Duration;
use wasmproc::{ByteBuf, Connection, Event, Pool, Process, Queue, RecvError, SendError, pipe, pipe_simplex};

#[test]
fn a_guest_sends_and_the_host_sees_end_of_file_after_the_last_message() {
    let send_all = fixtures().task::<(Connection<String>, Vec<String>), usize>("send_all").unwrap();
    let (parent, child) = pipe::<String>(ctx()).unwrap();
    let words: Vec<String> = ["Hello", "World", "Done"].map(String::from).to_vec();
    let p = Process::builder(ctx(), &send_all, (child, words.clone())).unwrap().start().unwrap();
    let got: Vec<String> = (0..3).map(|_| parent.recv().unwrap()).collect();
    assert_eq!(got, words);
    assert_eq!(parent.recv(), Err(RecvError::Eof));
    assert!(parent.poll(Duration::ZERO), "end of file is readable");
    p.join();
    assert_eq!(p.exit_code(), Some(0));
    assert!(matches!(parent.send("late".to_string()), Err(SendError::Closed(m)) if m == "late"));
}

#[test]
fn duplex_ping_pong_with_a_process() {
    let doubler = fixtures().task::<Connection<u64>, u64>("doubler").unwrap();
    let (here, there) = pipe::<u64>(ctx()).unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let answered = pool.apply_async(&doubler, there);
    for i in 1..=50 {
        here.send(i).unwrap();
        assert_eq!(here.recv_timeout(Duration::from_secs(10)).unwrap(), i * 2);
    }
    assert!(!here.poll(Duration::from_millis(20)), "nothing more is coming yet");
    here.close();
    assert_eq!(answered.get().unwrap(), 50);
}

#[test]
fn one_way_pipes_keep_their_direction() {
    let (reader, writer) = pipe_simplex::<u32>(ctx()).unwrap();
    assert!((reader.readable(), reader.writable(), writer.readable(), writer.writable()) == (true, false, false, true));
    assert_eq!(reader.send(1), Err(SendError::NotWritable(1)));
    assert_eq!(writer.recv(), Err(RecvError::NotReadable));
    assert_eq!(reader.try_recv(), Err(RecvError::Empty));
    writer.send(7).unwrap();
    assert!(reader.poll(Duration::from_millis(10)));
    assert_eq!(reader.recv().unwrap(), 7);
}

#[test]
fn a_256_mib_message_crosses_intact_both_ways() {
    const BIG: usize = 256 << 20;
    let recv_len = fixtures().task::<Connection<ByteBuf>, (usize, u64)>("recv_len").unwrap();
    let (here, there) = pipe::<ByteBuf>(ctx()).unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let got = pool.apply_async(&recv_len, there);
    let mut big = vec![7u8; BIG];
    big[BIG - 1] = 9;
    here.send(ByteBuf::from(big)).unwrap();
    assert_eq!(got.get().unwrap(), (BIG, 7 * (BIG as u64 - 1) + 9));
    // And from a guest to the host.
    let produce_blobs = fixtures().task::<(Queue<ByteBuf>, u32, u32), u32>("produce_blobs").unwrap();
    let q = Queue::<ByteBuf>::new(ctx()).unwrap();
    let sent = pool.apply_async(&produce_blobs, (q.clone(), 1, BIG as u32));
    let blob = match q.get_timeout(Duration::from_secs(120)) {
        Ok(blob) => blob,
        Err(e) => panic!("no blob ({e}); the task says {:?}", sent.get()),
    };
    assert_eq!(blob.len(), BIG);
    assert!(blob.iter().all(|&b| b == 7));
    assert_eq!(sent.get().unwrap(), 1);
}

#[test]
fn the_host_sees_end_of_file_when_the_peer_process_is_killed() {
    let spin = fixtures().task::<Connection<String>, ()>("send_then_spin").unwrap();
    let (here, there) = pipe::<String>(ctx()).unwrap();
    let p = Process::builder(ctx(), &spin, there).unwrap().start().unwrap();
    assert_eq!(here.recv_timeout(Duration::from_secs(10)).unwrap(), "hello");
    p.kill();
    p.join();
    assert_eq!(here.recv_timeout(Duration::from_secs(10)), Err(RecvError::Eof));
    let late = here.send("anyone?".into());
    assert!(matches!(late, Err(SendError::Closed(_))), "{late:?}");
}

#[test]
fn a_guest_waiting_on_a_pipe_sees_end_of_file_when_its_peer_process_is_killed() {
    let spin = fixtures().task::<Connection<String>, ()>("send_then_spin").unwrap();
    let collect = fixtures().task::<(Connection<String>, Event), Vec<String>>("collect_all_signalled").unwrap();
    let (a, b) = pipe::<String>(ctx()).unwrap();
    let first = Event::new(ctx()).unwrap();
    // Neither end stays in the host: each process holds one.
    let reader = Process::builder(ctx(), &collect, (a, first.clone())).unwrap().start().unwrap();
    let writer = Process::builder(ctx(), &spin, b).unwrap().start().unwrap();
    assert!(first.wait_timeout(Duration::from_secs(30)), "the reader never got the first message");
    assert!(reader.is_alive(), "the reader waits for more");
    writer.kill();
    writer.join();
    assert!(reader.join_timeout(Duration::from_secs(10)), "the reader saw end of file");
    assert_eq!(reader.exit_code(), Some(0));
}

#[test]
fn a_pipe_given_away_entirely_lives_as_long_as_its_tasks() {
    let send_all = fixtures().task::<(Connection<String>, Vec<String>), usize>("send_all").unwrap();
    let collect = fixtures().task::<Connection<String>, Vec<String>>("collect_all").unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let (a, b) = pipe::<String>(ctx()).unwrap();
    let words: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
    // Both ends move into the calls; the host keeps no handle of its own.
    let received = pool.apply_async(&collect, b);
    let sent = pool.apply_async(&send_all, (a, words.clone()));
    assert_eq!(sent.get().unwrap(), 20);
    assert_eq!(received.get().unwrap(), words);
}
