//! History reads for the server, on one thread of their own: however many calls want
//! history at once, they hold that one thread and wait their turn without one, instead of
//! each taking a thread of tokio's blocking pool (which grows to 512).
//!
//! One thread is all the store can use: it reads through a single connection behind a lock.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::thread;

use tokio::sync::{mpsc, oneshot};

/// Reads waiting for the thread before callers wait to hand theirs over.
const WAITING_READS: usize = 64;

type Job = Box<dyn FnOnce() + Send>;

/// The way to the reader thread; the thread ends once this is dropped and its queue is done.
pub(super) struct HistoryReader {
    jobs: mpsc::Sender<Job>,
}

impl HistoryReader {
    pub(super) fn start() -> Self {
        let (jobs, mut queue) = mpsc::channel::<Job>(WAITING_READS);
        thread::Builder::new()
            .name("chatroom-history".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    job();
                }
            })
            .expect("spawning the history reader thread");
        Self { jobs }
    }

    /// Runs `query` on the reader thread, in turn, and returns what it returns. A query that
    /// panics panics here, in the call that made it, and the thread carries on.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        query: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone; then nobody wants the answer.
            let _ = answer.send(catch_unwind(AssertUnwindSafe(query)));
        });
        self.jobs
            .send(job)
            .await
            .unwrap_or_else(|_| unreachable!("the reader thread lives as long as its sender"));
        match answered.await {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => resume_unwind(panic),
            Err(_) => unreachable!("every job answers, even one that panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_run_one_after_another_on_one_thread() {
        let reader = HistoryReader::start();
        let here = thread::current().id();
        let threads: Vec<_> =
            futures::future::join_all((0..16).map(|_| reader.run(|| thread::current().id()))).await;
        assert!(threads.iter().all(|id| *id == threads[0]));
        assert_ne!(threads[0], here);
    }

    #[tokio::test]
    async fn a_query_that_panics_panics_its_caller_and_the_thread_carries_on() {
        let reader = std::sync::Arc::new(HistoryReader::start());
        let caller = reader.clone();
        let panicked = tokio::spawn(async move { caller.run(|| panic!("boom")).await }).await;
        assert!(panicked.unwrap_err().is_panic());
        assert_eq!(reader.run(|| 7).await, 7);
    }
}
