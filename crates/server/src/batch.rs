//! Requests of one kind that arrive together, handled together: a few threads take whatever
//! is waiting (up to a batch size) and hand it to one call. The checkout hot path uses it so
//! that the payments of one moment share one transaction and one statement per table
//! (`dms_membership::checkout_batch`) instead of paying for a dozen round trips each.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

pub struct Batcher<J> {
    jobs: Sender<J>,
}

impl<J: Send + 'static> Batcher<J> {
    /// Starts `threads` threads, each taking up to `max_batch` waiting jobs at a time and
    /// passing them to `handle`, which answers each job. A job that `handle` drops unanswered
    /// (say it panicked) is dropped, which its caller sees.
    pub fn start<H>(
        name: &'static str,
        threads: usize,
        max_batch: usize,
        handle: H,
    ) -> std::io::Result<Batcher<J>>
    where
        H: Fn(Vec<J>) + Send + Sync + 'static,
    {
        let (tx, rx) = channel::<J>();
        let rx = Arc::new(Mutex::new(rx));
        let handle = Arc::new(handle);
        for n in 0..threads.max(1) {
            let (rx, handle) = (rx.clone(), handle.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    while let Some(batch) = next_batch(&rx, max_batch.max(1)) {
                        let run = std::panic::AssertUnwindSafe(|| handle(batch));
                        if std::panic::catch_unwind(run).is_err() {
                            log::error!("a batch of {name} failed; its callers were told");
                        }
                    }
                })?;
        }
        Ok(Batcher { jobs: tx })
    }

    /// Queues a job; `false` when the threads have stopped (the job is dropped unrun).
    pub fn submit(&self, job: J) -> bool {
        self.jobs.send(job).is_ok()
    }
}

/// Waits for a job, then takes the others already waiting; `None` once no sender is left.
fn next_batch<J>(rx: &Mutex<Receiver<J>>, max: usize) -> Option<Vec<J>> {
    // One thread gathers at a time; the others wait here for their turn.
    let rx = rx.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut batch = vec![rx.recv().ok()?];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

    #[test]
    fn every_job_is_handled_once_in_batches() {
        let (done_tx, done_rx) = channel::<Vec<u32>>();
        let done_tx = Mutex::new(done_tx);
        let b = Batcher::start("test", 2, 4, move |jobs: Vec<u32>| {
            let _ = done_tx.lock().unwrap().send(jobs);
        })
        .unwrap();
        for i in 0..100 {
            assert!(b.submit(i));
        }
        let mut seen = Vec::new();
        while seen.len() < 100 {
            let batch = done_rx.recv_timeout(WAIT).expect("a batch");
            assert!(!batch.is_empty() && batch.len() <= 4, "{batch:?}");
            seen.extend(batch);
        }
        seen.sort();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_batch_does_not_stop_the_threads() {
        let (done_tx, done_rx) = channel::<u32>();
        let done_tx = Mutex::new(done_tx);
        let b = Batcher::start("test", 1, 1, move |jobs: Vec<u32>| {
            assert!(jobs[0] != 1, "job 1 fails");
            let _ = done_tx.lock().unwrap().send(jobs[0]);
        })
        .unwrap();
        for i in 0..3 {
            b.submit(i);
        }
        // A thread that died with job 1 would leave job 2 unanswered: waited for, not forever.
        assert_eq!(done_rx.recv_timeout(WAIT).expect("job 0"), 0);
        assert_eq!(done_rx.recv_timeout(WAIT).expect("job 2"), 2);
    }
}
