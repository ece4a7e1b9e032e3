//! `destroy`: on every member's host, etcd stopped and disabled and what
//! etcd-deploy installed removed (scheduled snapshots too, but not the
//! snapshots they saved); data directories kept unless asked, and with them
//! etcd-deploy's records of the members (on the hosts and the controller's
//! cache), so that kept data is still known as etcd-deploy's.

use super::Env;
use crate::error::Error;
use crate::plan::Data;
use crate::remote;
use crate::runtime;

/// Carries out the plan's `Step::Destroy` on each of `members`.
pub(super) async fn run(env: &Env<'_>, members: &[String], data: Data) -> Result<(), Error> {
    let wipe_data = data == Data::Wipe;
    futures_util::future::try_join_all(members.iter().map(|name| async move {
        let m = env.member(name)?;
        let task = env.progress.task(&m.name);
        task.step("stop, disable, remove");
        let r = async {
            let h = env.host(&m.name)?;
            // Scheduled snapshots stop first (the snapshots saved stay).
            h.run("destroy", &crate::backup::remove(m)).await?;
            h.run("destroy", &runtime::of(m).remove(env.inv, m)).await?;
            h.run("destroy", &remote::destroy_files(env.inv, m, wipe_data))
                .await?;
            crate::records::remove(env.inv, h)
                .await
                .map_err(Error::Blocked)?;
            Ok::<(), Error>(())
        }
        .await;
        match &r {
            Ok(_) => task.done(if wipe_data {
                "removed, data deleted"
            } else {
                "removed, data kept"
            }),
            Err(e) => task.fail(&e.to_string()),
        }
        r
    }))
    .await?;
    if wipe_data {
        crate::records::uncache(env.inv);
    }
    Ok(())
}
