//! Manager dicts, lists and namespaces shared with guests.

use crate::common::{ctx, fixtures};
use wasmproc::{Dict, List, Lock, Manager, Namespace, Pool, Process};

#[test]
fn five_processes_fill_a_dict_and_a_list() {
    let worker = fixtures().task::<(Dict<u32, u32>, List<u32>, Lock, u32), ()>("manager_worker").unwrap();
    let manager = Manager::new(ctx()).unwrap();
    let (d, l, lock) = (manager.dict::<u32, u32>().unwrap(), manager.list::<u32>().unwrap(), Lock::new(ctx()).unwrap());
    let procs: Vec<Process> = (0..5)
        .map(|i| Process::builder(ctx(), &worker, (d.clone(), l.clone(), lock.clone(), i)).unwrap().start().unwrap())
        .collect();
    procs.iter().for_each(Process::join);
    assert!(procs.iter().all(|p| p.exit_code() == Some(0)));
    let mut entries = d.items().unwrap();
    entries.sort();
    assert_eq!(entries, vec![(0, 0), (1, 10), (2, 20), (3, 30), (4, 40)]);
    let mut items = l.to_vec().unwrap();
    items.sort();
    assert_eq!(items, vec![0, 1, 2, 3, 4]);
}

#[test]
fn many_writers_lose_nothing_and_read_their_own_writes() {
    let fill = fixtures().task::<(Dict<u64, u64>, u64, u64), (Option<u64>, usize)>("manager_fill").unwrap();
    let d = Manager::new(ctx()).unwrap().dict::<u64, u64>().unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let runs: Vec<_> = (0..8).map(|i| pool.apply_async(&fill, (d.clone(), i * 1000, 1000))).collect();
    for (i, r) in runs.into_iter().enumerate() {
        let (first, seen) = r.get().unwrap();
        let start = i as u64 * 1000;
        assert_eq!(first, Some(start * start), "a task reads its own writes (same order on one socket)");
        assert!(seen >= 1000);
    }
    assert_eq!(d.len(), 8000);
    assert_eq!(d.get(&7999).unwrap(), Some(7999 * 7999));
    assert_eq!(d.remove(&0).unwrap(), Some(0));
    assert!(!d.contains_key(&0).unwrap());
}

#[test]
fn namespaces_and_list_errors_from_a_guest() {
    let misc = fixtures().task::<(Namespace, List<String>), String>("manager_misc").unwrap();
    let manager = Manager::new(ctx()).unwrap();
    let ns = manager.namespace().unwrap();
    ns.set("greeting", "hello".to_string()).unwrap();
    let l = manager.list::<String>().unwrap();
    l.append("last".into()).unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let said = pool.apply(&misc, (ns.clone(), l.clone())).unwrap();
    assert_eq!(said, "Some(\"hello\") Some(\"last\") index 100 is out of range");
    assert_eq!(ns.get::<u32>("answer").unwrap(), Some(42));
    assert!(ns.get::<String>("answer").is_err(), "a value read as the wrong type is a decode error");
    assert!(l.is_empty());
}
