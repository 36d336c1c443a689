//! How the kernel schedules the server's threads (`cpu_policy`).
//!
//! Sluice is a relay: each MCP call wakes it twice (the client's request, the database's
//! answer). Under the default policy the woken Sluice thread preempts whatever runs on its
//! core, typically the database backend that just answered and is about to go back to sleep,
//! or the client that just sent: two context switches where one would do, and the preempted
//! process still has to be switched back in only to block. `SCHED_BATCH` (Linux) changes that
//! one thing: a woken batch thread does not preempt the running task; it runs once that task
//! blocks or its slice ends, and then handles every call that became ready meanwhile in one
//! go. (The other direction is unchanged: a process Sluice wakes may still preempt Sluice.)
//! The nice value and so Sluice's share of the CPU are unchanged; what it gives up is jumping
//! the queue, usually for well under a few ms, and only when its core is busy. `make bench`:
//! Sluice's CPU per call 4-7 µs lower (see the README's Performance).

use serde::{Deserialize, Serialize};

/// The scheduling policy of the server's threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuPolicy {
    /// `SCHED_BATCH` on Linux when the process starts under the default policy at nice 0;
    /// otherwise (and on other systems) what the process was started with.
    Batch,
    /// Whatever the process was started with (`SCHED_OTHER` unless the operator chose another
    /// policy, e.g. with `chrt`).
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

/// The scheduling policy (0 is `SCHED_OTHER`, 3 `SCHED_BATCH`) and the nice value of the
/// calling thread, from `/proc/thread-self/stat` (fields 41 and 19).
#[cfg(target_os = "linux")]
pub fn current() -> Option<(u32, i32)> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses; field 3 follows the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let policy = fields.get(41 - 3)?.parse().ok()?;
    let nice = fields.get(19 - 3)?.parse().ok()?;
    Some((policy, nice))
}

#[cfg(target_os = "linux")]
fn batch() -> Applied {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityOsValue};

    // Only the default policy at nice 0 is changed. An operator who chose a policy (`chrt`,
    // systemd's `CPUSchedulingPolicy`) keeps it: a real-time one is never demoted. And since
    // the library sets the nice value along with the policy, and we only give it 0, a process
    // started at another nice value (`nice -n 5 sluice`) keeps its policy and its nice value.
    match current() {
        Some((0, 0)) => {}
        Some((3, _)) => return Applied::Unchanged,
        Some((0, nice)) => {
            return Applied::Refused(format!(
                "the process runs at nice {nice}; SCHED_BATCH is only set at nice 0, so that \
                 the nice value is kept"
            ));
        }
        Some((policy, _)) => {
            return Applied::Refused(format!(
                "the process was started under scheduling policy {policy}, which is kept"
            ));
        }
        None => {
            return Applied::Refused("cannot read the scheduling policy from /proc".into());
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn batch_applies_to_the_thread_and_the_threads_it_starts() {
        // A thread of its own, so the test runner's threads keep their policy.
        std::thread::spawn(|| {
            let before = current().unwrap();
            let applied = apply(CpuPolicy::Batch);
            if before != (0, 0) {
                // The tests were started under `nice` or `chrt`: nothing may change.
                assert_ne!(applied, Applied::Batch);
                assert_eq!(current().unwrap(), before);
                return;
            }
            assert_eq!(applied, Applied::Batch);
            assert_eq!(current().unwrap(), (3, 0), "SCHED_BATCH, nice unchanged");
            let child = std::thread::spawn(current).join().unwrap().unwrap();
            assert_eq!(child, (3, 0), "a thread started afterwards inherits it");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn normal_and_a_chosen_nice_value_change_nothing() {
        std::thread::spawn(|| {
            let before = current().unwrap();
            assert_eq!(apply(CpuPolicy::Normal), Applied::Unchanged);
            assert_eq!(current().unwrap(), before);
            if before.0 == 0 && before.1 < 19 {
                // Raising one's own nice value needs no privilege.
                std::process::Command::new("renice")
                    .args(["-n", "19", "-p"])
                    .arg(
                        std::fs::read_link("/proc/thread-self")
                            .unwrap()
                            .file_name()
                            .unwrap(),
                    )
                    .output()
                    .unwrap();
                let reniced = current().unwrap();
                assert_eq!(reniced, (0, 19));
                assert!(matches!(apply(CpuPolicy::Batch), Applied::Refused(_)));
                assert_eq!(current().unwrap(), reniced, "policy and nice kept");
            }
        })
        .join()
        .unwrap();
    }
}
