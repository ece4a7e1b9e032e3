//! `[backup]`: the schedule, how many to keep, the directory on each host.

use super::*;

/// `[backup]`: a schedule systemd reads (`OnCalendar=`: letters, digits and
/// `*:-/.,~ ` only, so it stays one value of one line), a count to keep, a
/// directory of its own on each host (not inside a data directory).
pub(super) fn build_backup(
    cx: &Ctx,
    raw: &RawInventory,
    members: &[Member],
) -> Result<Option<Backup>, InventoryError> {
    let Some(b) = &raw.backup else {
        return Ok(None);
    };
    // The job runs the release's etcdctl on the host; a registry image
    // leaves no release there (and its image has no shell to schedule in).
    if let Some(m) = members
        .iter()
        .find(|m| matches!(m.compose(), Some(c) if matches!(c.image, Image::Registry(_))))
    {
        return Err(cx.at(
            b.span(),
            format!(
                "backup: {} runs a registry image, and scheduled snapshots run the release's etcdctl on the host (a systemd timer): set image = \"release\" for compose members, or take snapshots with `etcd-deploy snapshot save` (e.g. from cron on the controller)",
                m.name
            ),
        ));
    }
    let schedule = match &b.get_ref().schedule {
        None => "hourly".to_string(),
        Some(s) => {
            let v = s.get_ref();
            let ok = !v.trim().is_empty()
                && v.len() <= 100
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " *:-/.,~".contains(c));
            if !ok {
                return Err(cx.field(
                    s,
                    "backup.schedule",
                    format!(
                        "`{}` is not a systemd calendar expression (e.g. \"hourly\", \"*-*-* 02:30:00\", \"*:0/15\")",
                        shown(v)
                    ),
                ));
            }
            v.trim().to_string()
        }
    };
    let keep = match &b.get_ref().keep {
        None => 24,
        Some(k) if *k.get_ref() == 0 => {
            return Err(cx.field(k, "backup.keep", "keep at least 1 snapshot"));
        }
        Some(k) => *k.get_ref(),
    };
    let dir = abs_path(
        cx,
        b.get_ref().dir.as_ref(),
        "backup.dir",
        "/var/backups/etcd",
        DirUse::Other,
    )?;
    for m in members {
        let theirs = std::iter::once(("data directory", m.data_dir.as_str()))
            .chain(m.separate_wal_dir().map(|w| ("wal-dir", w)));
        if let Some((what, d)) = theirs
            .into_iter()
            .find(|(_, d)| within(&dir, d) || within(d, &dir))
        {
            let span = b.get_ref().dir.as_ref().map_or(b.span(), |d| d.span());
            return Err(cx.at(
                span,
                format!(
                    "backup.dir: `{dir}` and {}'s {what} `{d}` must not contain one another (a restore moves data directories aside)",
                    m.name
                ),
            ));
        }
    }
    Ok(Some(Backup {
        schedule,
        keep,
        dir,
    }))
}
