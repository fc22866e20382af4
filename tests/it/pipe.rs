//! Pipes between the host and guests.

use crate::common::{ctx, fixtures};
use std::time::Duration;
use wasmproc::{Connection, Pool, Process, RecvError, SendError, pipe, pipe_simplex};

#[test]
fn a_guest_sends_and_the_host_sees_end_of_file_after_the_last_message() {
    let send_all = fixtures().task::<(Connection<String>, Vec<String>), usize>("send_all").unwrap();
    let (parent, child) = pipe::<String>(ctx());
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
    let (here, there) = pipe::<u64>(ctx());
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
    let (reader, writer) = pipe_simplex::<u32>(ctx());
    assert!((reader.readable(), reader.writable(), writer.readable(), writer.writable()) == (true, false, false, true));
    assert_eq!(reader.send(1), Err(SendError::NotWritable(1)));
    assert_eq!(writer.recv(), Err(RecvError::NotReadable));
    assert_eq!(reader.try_recv(), Err(RecvError::Empty));
    writer.send(7).unwrap();
    assert!(reader.poll(Duration::from_millis(10)));
    assert_eq!(reader.recv().unwrap(), 7);
}

#[test]
fn a_large_message_crosses_intact() {
    let recv_len = fixtures().task::<Connection<Vec<u8>>, usize>("recv_len").unwrap();
    let (here, there) = pipe::<Vec<u8>>(ctx());
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let got = pool.apply_async(&recv_len, there);
    let big = vec![7u8; 32 << 20];
    here.send(big).unwrap();
    assert_eq!(got.get().unwrap(), 32 << 20);
}

#[test]
fn a_pipe_given_away_entirely_lives_as_long_as_its_tasks() {
    let send_all = fixtures().task::<(Connection<String>, Vec<String>), usize>("send_all").unwrap();
    let collect = fixtures().task::<Connection<String>, Vec<String>>("collect_all").unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let (a, b) = pipe::<String>(ctx());
    let words: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
    // Both ends move into the calls; the host keeps no handle of its own.
    let received = pool.apply_async(&collect, b);
    std::thread::sleep(Duration::from_millis(50));
    let sent = pool.apply_async(&send_all, (a, words.clone()));
    assert_eq!(sent.get().unwrap(), 20);
    assert_eq!(received.get().unwrap(), words);
}
