//! Around every step: the task's outcome, retries of etcd calls while the
//! cluster settles, etcd errors named by the member they concern.

use crate::error::Error;
use crate::etcd::EtcdError;
use crate::progress::Task;
use crate::ssh::HostError;
use std::time::{Duration, Instant};

/// Marks the task failed when the step fails.
pub(in crate::exec) async fn guard<T>(
    task: &Task,
    f: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let r = f.await;
    if let Err(e) = &r {
        task.fail(&e.to_string());
    }
    r
}

/// Retries an etcd call that fails while the cluster settles (a learner
/// catching up, a fresh member's connections not yet counted); an error
/// etcd's classification calls permanent is reported at once.
pub(in crate::exec) async fn retry<T, F, Fut>(
    host: &str,
    step: &str,
    timeout: Duration,
    mut f: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, EtcdError>>,
{
    let deadline = Instant::now() + timeout;
    // Short, steady pauses: the cluster usually allows the call within seconds,
    // and every pause beyond that moment is time lost.
    let pause = Duration::from_millis(100);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                tokio::time::sleep(pause).await
            }
            Err(e) => return Err(etcd_err(host, step, e)),
        }
    }
}

pub(in crate::exec) fn etcd_err(host: &str, step: &str, e: EtcdError) -> Error {
    HostError::new(host, step, e.message).into()
}
