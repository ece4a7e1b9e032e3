//! Ctrl-C (SIGINT) during a run that changes the cluster: the member in
//! flight is finished (or rolled back, as its step does on failure) and the
//! run stops at the next step boundary with a message saying how to resume;
//! a second Ctrl-C stops at once. Outside such a run, Ctrl-C stops at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static CHANGING: AtomicUsize = AtomicUsize::new(0);

/// Listens for SIGINT for the rest of the process (call inside the runtime).
pub(crate) fn install() {
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            if CHANGING.load(Ordering::SeqCst) == 0 {
                eprintln!("interrupted; nothing had been changed by this step");
                crate::remove_control_dir();
                std::process::exit(130);
            }
            if REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "second interrupt: stopping at once; the member in flight may be left stopped or half-done: run the same command again to resume"
                );
                crate::remove_control_dir();
                std::process::exit(130);
            }
            eprintln!(
                "interrupt: finishing the member in flight, then stopping (Ctrl-C again to stop at once)"
            );
        }
    });
}

/// True once Ctrl-C asked the run to stop at the next step boundary.
pub(crate) fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// While held, Ctrl-C lets the member in flight finish instead of exiting.
pub(crate) struct Changing(());

impl Changing {
    pub(crate) fn begin() -> Changing {
        CHANGING.fetch_add(1, Ordering::SeqCst);
        Changing(())
    }
}

impl Drop for Changing {
    fn drop(&mut self) {
        CHANGING.fetch_sub(1, Ordering::SeqCst);
    }
}
