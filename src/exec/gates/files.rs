//! A member's files and service: its config written (or the previous one
//! put back), its version switched, its etcd started; its log's cause when
//! it fails.

use super::*;
use crate::error::Error;
use crate::etcd_log::log_cause;
use crate::exec::Env;
use crate::inventory::{Member, Version};
use crate::member_config::{self, Bootstrap};
use crate::progress::Task;
use crate::remote;
use crate::runtime;

/// Renders and writes the member's config (with first-start fields if given).
pub(in crate::exec) async fn write_config(
    env: &Env<'_>,
    m: &Member,
    b: Option<&Bootstrap>,
    task: &Task,
) -> Result<(), Error> {
    task.step("write config");
    let r = member_config::render(env.inv, m, b)?;
    put_config(env, m, &r.config, "write config").await
}

/// Writes `config` back and restarts the member on it, healthy: the way
/// back of a config change that did not come up.
pub(in crate::exec) async fn restart_with(
    env: &Env<'_>,
    m: &Member,
    config: &str,
    task: &Task,
) -> Result<(), Error> {
    put_config(env, m, config, "write the previous config").await?;
    start(env, m, true, task).await?;
    wait_healthy(env, m, task).await
}

/// Writes `text` as the member's config file (atomically, on its host).
pub(in crate::exec) async fn put_config(
    env: &Env<'_>,
    m: &Member,
    text: &str,
    step: &str,
) -> Result<(), Error> {
    env.host(&m.name)?
        .run_with_input(step, &remote::write_config(m), text.as_bytes())
        .await?;
    Ok(())
}

/// Makes `m`'s next (re)start run version `v` (its runtime says how).
pub(in crate::exec) async fn switch_version(
    env: &Env<'_>,
    m: &Member,
    v: Version,
) -> Result<(), Error> {
    let host = env.host(&m.name)?;
    let (script, input) = runtime::of(m).switch_version(env.templates, env.inv, m, v)?;
    let step = format!("switch to etcd {v}");
    match input {
        Some(text) => host.run_with_input(&step, &script, text.as_bytes()).await?,
        None => host.run(&step, &script).await?,
    };
    Ok(())
}

/// Starts (or restarts) the member; a failure carries its log's last lines.
pub(in crate::exec) async fn start(
    env: &Env<'_>,
    m: &Member,
    restart: bool,
    task: &Task,
) -> Result<(), Error> {
    let step = if restart {
        "restart etcd"
    } else {
        "start etcd"
    };
    task.step(step);
    let host = env.host(&m.name)?;
    let script = runtime::of(m).start(env.inv, m, restart);
    if let Err(mut e) = host.run(step, &script).await {
        e.detail.push_str(&journal(env, m).await);
        return Err(e.into());
    }
    Ok(())
}

/// The last lines of the member's log, as a paragraph for an error message.
pub(in crate::exec) async fn journal(env: &Env<'_>, m: &Member) -> String {
    let rt = runtime::of(m);
    let Ok(host) = env.host(&m.name) else {
        return String::new();
    };
    match host.run("read the log", &rt.logs(env.inv, m)).await {
        Ok(j) if !j.trim().is_empty() => {
            let lines: Vec<&str> = j.trim_end().lines().collect();
            let tail = lines[lines.len().saturating_sub(12)..].join("\n");
            let cause = match log_cause(&j) {
                Some(c) => format!("\ncause, from its log: {c}"),
                None => String::new(),
            };
            format!(
                "{cause}\n--- last lines of the etcd {} on {} ---\n{}",
                rt.log_name(),
                host.name,
                printable_lines(&tail)
            )
        }
        _ => String::new(),
    }
}

/// Log lines from a host, control characters (but newlines) escaped.
pub(in crate::exec) fn printable_lines(text: &str) -> String {
    text.lines()
        .map(printable_line)
        .collect::<Vec<_>>()
        .join("\n")
}

pub(in crate::exec) fn printable_line(l: &str) -> String {
    l.chars()
        .take(300)
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect()
}
