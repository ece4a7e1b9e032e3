//! `destroy`: on every member's host, etcd stopped and disabled and what
//! etcd-deploy installed removed; data directories kept unless asked.

use super::Env;
use crate::error::Error;
use crate::remote;

pub async fn destroy(env: &Env<'_>, wipe_data: bool) -> Result<(), Error> {
    futures_util::future::try_join_all(env.inv.members.iter().map(|m| async move {
        let task = env.progress.task(&m.name);
        task.step("stop, disable, remove");
        let r = match env.host(&m.name) {
            Ok(h) => h
                .run("destroy", &remote::destroy(env.inv, m, wipe_data))
                .await
                .map_err(Error::from),
            Err(e) => Err(e),
        };
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
    Ok(())
}
