//! How the kernel schedules the server's threads (`cpu_policy`).
//!
//! Sluice is a relay: each MCP call wakes it (the client's request, the database's answer),
//! and each of its sends wakes another process (the database backend, the client). Under the
//! default policy a thread that is woken preempts whatever runs on its core, often the very
//! backend that just answered and is about to go back to sleep: one more pair of context
//! switches per hop, and Sluice's worker is cut off in the middle of the calls it had ready.
//! `SCHED_BATCH` (Linux) only changes that: a woken Sluice thread waits for the running task to
//! block or use up its slice instead of preempting it, and then handles every call that became
//! ready meanwhile in one go. Priorities and shares are unchanged (same nice value), so
//! Sluice gets the same CPU and never takes more; what it gives up is jumping the queue, at
//! most a scheduler slice (a few ms) when every core is busy. `make bench`: about a tenth
//! more calls per second next to PostgreSQL on two cores (see the README's Performance).

use serde::{Deserialize, Serialize};

/// The scheduling policy of the server's threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuPolicy {
    /// `SCHED_BATCH` on Linux (elsewhere the system's default): woken threads do not
    /// preempt the running task.
    Batch,
    /// The system's default (`SCHED_OTHER`).
    Normal,
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The calling thread, and every thread it starts from now on, runs under `SCHED_BATCH`.
    Batch,
    /// Nothing changed: `normal` was asked for, or the system has no `SCHED_BATCH`.
    Unchanged,
    /// Nothing changed, for the reason given (logged as a warning).
    Refused(String),
}

/// Applies `policy` to the calling thread. Call it before any other thread is started: threads
/// inherit their creator's policy, so the runtimes and HTTP workers started afterwards follow.
pub fn apply(policy: CpuPolicy) -> Applied {
    match policy {
        CpuPolicy::Normal => Applied::Unchanged,
        CpuPolicy::Batch => batch(),
    }
}

#[cfg(target_os = "linux")]
fn batch() -> Applied {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityOsValue};

    // Setting the policy also sets the nice value, and the library can only be given 0: a
    // server started with another nice value (`nice -n 5 sluice`) keeps its policy, so that
    // its nice value is never changed behind the operator's back.
    match nice() {
        Some(0) => {}
        Some(n) => {
            return Applied::Refused(format!(
                "the process runs at nice {n}; SCHED_BATCH is only set at nice 0, so the nice \
                 value is kept"
            ));
        }
        None => {
            return Applied::Refused("cannot read the nice value from /proc".into());
        }
    }
    match set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Os(ThreadPriorityOsValue::default()),
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
    ) {
        Ok(()) => Applied::Batch,
        Err(e) => Applied::Refused(format!("the kernel refused SCHED_BATCH: {e:?}")),
    }
}

#[cfg(not(target_os = "linux"))]
fn batch() -> Applied {
    Applied::Unchanged
}

/// The calling thread's nice value (field 19 of `/proc/thread-self/stat`).
#[cfg(target_os = "linux")]
fn nice() -> Option<i32> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it start at field 3.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19 - 3)?
        .parse()
        .ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The scheduling policy of the calling thread (field 41 of its stat line).
    fn policy_of_this_thread() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        fields[41 - 3].parse().unwrap()
    }

    #[test]
    fn batch_applies_to_the_thread_and_the_threads_it_starts() {
        // A thread of its own, so the test runner's threads keep their policy.
        std::thread::spawn(|| {
            assert_eq!(nice(), Some(0), "tests run at nice 0");
            assert_eq!(apply(CpuPolicy::Batch), Applied::Batch);
            assert_eq!(policy_of_this_thread(), 3, "SCHED_BATCH is policy 3");
            assert_eq!(nice(), Some(0), "the nice value is unchanged");
            let child = std::thread::spawn(policy_of_this_thread).join().unwrap();
            assert_eq!(child, 3, "a thread started afterwards inherits the policy");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn normal_changes_nothing() {
        std::thread::spawn(|| {
            assert_eq!(apply(CpuPolicy::Normal), Applied::Unchanged);
            assert_eq!(policy_of_this_thread(), 0, "SCHED_OTHER is policy 0");
        })
        .join()
        .unwrap();
    }
}
