//! Which worker runs which chunk: a pure policy over how loaded each worker is.
//!
//! Rules:
//! - **Idle first.** A chunk goes to an idle worker when there is one.
//! - **Pipelining only when all are busy.** Only then may a worker hold more than one chunk: up to
//!   [`SHALLOW`], or up to [`DEEP`] while its chunks take under [`SHORT_CHUNK`] each (tiny tasks
//!   need a deep pipeline to hide the round trip; long ones need balance).
//! - **Least loaded next.** Among busy workers with room, the one holding the fewest chunks.
//! - **Retirement.** A worker given its last chunk before it retires (`max_tasks_per_child`)
//!   takes no more.
//! - **FIFO.** Chunks are assigned in queue order; cancelled ones are dropped, not assigned.

use std::collections::VecDeque;
use std::time::Duration;

/// Chunks faster than this (as measured by the worker) earn a deep pipeline.
pub(super) const SHORT_CHUNK: Duration = Duration::from_micros(300);
/// Most chunks a worker of short chunks holds.
pub(super) const DEEP: usize = 16;
/// Most chunks any other worker holds.
pub(super) const SHALLOW: usize = 2;

/// A worker as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Load {
    /// It takes work (a live worker not told to exit).
    pub(super) accepts: bool,
    /// Chunks given to it and not answered yet.
    pub(super) queued: usize,
    /// Most chunks it may hold (see [`depth`]).
    pub(super) depth: usize,
    /// Chunks it may still be given before it retires; `None`: no limit.
    pub(super) left: Option<u64>,
}

/// How many chunks a worker whose chunks take `chunk_time` (smoothed) may hold.
pub(super) fn depth(chunk_time: Option<Duration>) -> usize {
    match chunk_time {
        Some(t) if t < SHORT_CHUNK => DEEP,
        _ => SHALLOW,
    }
}

/// The smoothed chunk time after a chunk that kept the worker `busy`.
pub(super) fn smooth(previous: Option<Duration>, busy: Duration) -> Duration {
    match previous {
        Some(t) => (t * 7 + busy) / 8,
        None => busy,
    }
}

/// The worker the next chunk goes to, if any may take one.
fn pick(loads: &[Load]) -> Option<usize> {
    let idle = loads.iter().position(|l| l.accepts && l.queued == 0);
    idle.or_else(|| {
        loads
            .iter()
            .enumerate()
            .filter(|(_, l)| l.accepts && l.queued < l.depth)
            .min_by_key(|(_, l)| l.queued)
            .map(|(i, _)| i)
    })
}

/// Takes chunks off the front of `queue` for the workers described by `loads` (which it updates),
/// as long as one may take one; a chunk that `cancelled` says was given up on is dropped instead.
/// Returns the assignments, in assignment order.
pub(super) fn assign<J>(
    queue: &mut VecDeque<J>,
    loads: &mut [Load],
    cancelled: impl Fn(&J) -> bool,
) -> Vec<(usize, J)> {
    let mut given = Vec::new();
    while !queue.is_empty() {
        let Some(i) = pick(loads) else { break };
        let job = queue.pop_front().expect("not empty");
        if cancelled(&job) {
            continue;
        }
        let load = &mut loads[i];
        debug_assert!(load.accepts && load.queued < load.depth.max(1), "a worker is given only what it may hold");
        load.queued += 1;
        if let Some(left) = &mut load.left {
            *left = left.saturating_sub(1);
            if *left == 0 {
                load.accepts = false;
            }
        }
        given.push((i, job));
    }
    given
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(queued: usize) -> Load {
        Load { accepts: true, queued, depth: SHALLOW, left: None }
    }

    fn run(queue: &[u32], loads: &mut [Load]) -> (Vec<(usize, u32)>, Vec<u32>) {
        let mut q: VecDeque<u32> = queue.iter().copied().collect();
        let given = assign(&mut q, loads, |j| *j >= 100);
        (given, q.into_iter().collect())
    }

    #[test]
    fn idle_workers_first_then_the_least_loaded_up_to_their_depth() {
        let mut loads = [ready(1), ready(0), ready(0)];
        let (given, left) = run(&[1, 2, 3, 4, 5, 6], &mut loads);
        // Idle 1 and 2 first; then 0 (1 queued) and 1/2 alternate up to depth 2 each.
        assert_eq!(given, vec![(1, 1), (2, 2), (0, 3), (1, 4), (2, 5)]);
        assert_eq!(left, vec![6], "every worker is full");
        assert!(loads.iter().all(|l| l.queued == SHALLOW));
    }

    #[test]
    fn short_chunks_earn_a_deep_pipeline() {
        assert_eq!(depth(None), SHALLOW);
        assert_eq!(depth(Some(Duration::from_micros(50))), DEEP);
        assert_eq!(depth(Some(Duration::from_millis(5))), SHALLOW);
        let mut loads = [Load { depth: DEEP, ..ready(0) }];
        let (given, _) = run(&(0..20).collect::<Vec<_>>(), &mut loads);
        assert_eq!(given.len(), DEEP);
        assert_eq!(smooth(None, Duration::from_micros(80)), Duration::from_micros(80));
        assert_eq!(smooth(Some(Duration::from_micros(80)), Duration::from_micros(160)), Duration::from_micros(90));
    }

    #[test]
    fn cancelled_chunks_are_dropped_and_workers_that_retire_or_refuse_get_nothing() {
        let mut loads = [Load { accepts: false, ..ready(0) }, Load { left: Some(2), ..ready(0) }];
        let (given, left) = run(&[100, 7, 101, 8, 9], &mut loads);
        assert_eq!(given, vec![(1, 7), (1, 8)], "worker 0 refuses work; worker 1 retires after two");
        assert_eq!(left, vec![9]);
        assert!(!loads[1].accepts);
        let (given, left) = run(&[1], &mut []);
        assert!(given.is_empty() && left == vec![1], "no workers: the chunk waits");
    }
}
