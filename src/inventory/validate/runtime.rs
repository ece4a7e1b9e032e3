//! How each member runs (`mode`: systemd or compose, and compose's image),
//! and the bridge networks of members sharing a host in compose mode.

use super::*;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Mode {
    Systemd,
    Compose,
}

/// The cluster-wide mode and image, which hosts may override.
pub(super) struct RuntimeSpec<'a> {
    pub(super) mode: Mode,
    pub(super) image: Option<&'a Spanned<String>>,
}

pub(super) fn mode_of(
    cx: &Ctx,
    v: Option<&Spanned<String>>,
    field: &str,
    default: Mode,
) -> Result<Mode, InventoryError> {
    cx.choice(
        v,
        field,
        default,
        &[("systemd", Mode::Systemd), ("compose", Mode::Compose)],
    )
}

pub(super) fn build_runtime(
    cx: &Ctx,
    h: &RawHost,
    i: usize,
    base: &RuntimeSpec,
) -> Result<Runtime, InventoryError> {
    let field = |f: &str| format!("hosts[{i}].{f}");
    let mode = mode_of(cx, h.mode.as_ref(), &field("mode"), base.mode)?;
    let (image, image_field) = match &h.image {
        Some(img) => (Some(img), field("image")),
        None => (base.image, "cluster.image".to_string()),
    };
    if mode == Mode::Systemd {
        return match image {
            Some(img) => Err(cx.field(
                img,
                &image_field,
                "an image is only used in compose mode (mode = \"compose\")",
            )),
            None => Ok(Runtime::Systemd),
        };
    }
    let image = match image {
        None => Image::Registry(OFFICIAL_IMAGE.to_string()),
        Some(img) if img.get_ref() == "release" => Image::Release,
        Some(img) => {
            let v = img.get_ref();
            // Passed to docker as an argument: never something it reads as an option.
            if v.is_empty()
                || v.starts_with('-')
                || v.contains(char::is_whitespace)
                || !v.contains("{version}")
            {
                return Err(cx.field(
                    img,
                    &image_field,
                    format!(
                        "`{v}`: expected \"release\" (built on the host from the release tarball) or an image reference with {{version}} where the version goes, like \"{OFFICIAL_IMAGE}\""
                    ),
                ));
            }
            Image::Registry(v.clone())
        }
    };
    // The network is decided once every member is known (`assign_networks`).
    Ok(Runtime::Compose(Compose {
        image,
        network: Network::Host,
    }))
}

/// Compose members that share a host get a bridge of their own; when that host
/// runs the whole cluster, peers reach each other by container name.
pub(super) fn assign_networks(
    cx: &Ctx,
    raw: &RawInventory,
    members: &mut [Member],
) -> Result<(), InventoryError> {
    let sharing: Vec<usize> = members
        .iter()
        .map(|m| members.iter().filter(|o| o.same_host(m)).count())
        .collect();
    let total = members.len();
    for (i, m) in members.iter_mut().enumerate() {
        let (sharing, whole_cluster) = (sharing[i], sharing[i] == total);
        let Runtime::Compose(c) = &mut m.runtime else {
            continue;
        };
        if sharing < 2 {
            continue;
        }
        c.network = Network::Bridge {
            peers_by_name: whole_cluster,
        };
        let h = &raw.hosts.get_ref()[i];
        if let Some(p) = m.metrics_port {
            // Its port would have to be published from the bridge too.
            let span = h
                .metrics_port
                .as_ref()
                .or(raw.cluster.metrics_port.as_ref())
                .map_or(h.address.span(), |s| s.span());
            return Err(cx.at(
                span,
                format!(
                    "metrics_port {p}: {} shares its host with other compose members (a bridge network), where etcd-deploy does not publish a metrics port yet; use systemd mode there, or one compose member per host",
                    m.name
                ),
            ));
        }
        if !whole_cluster && is_loopback(&m.advertise) {
            let span = h.advertise.as_ref().unwrap_or(&h.address).span();
            return Err(cx.at(
                span,
                format!(
                    "hosts[{i}].advertise: {} is a loopback address, which containers on the bridge of a shared host cannot reach for peers on other hosts; advertise an address of the host's network, or run every member on this host",
                    m.advertise
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn is_loopback(addr: &str) -> bool {
    addr == "localhost"
        || addr
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
