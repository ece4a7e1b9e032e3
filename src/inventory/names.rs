//! Which names, SSH addresses and URLs etcd-deploy accepts, whether they
//! come from the inventory, a host or etcd's member list: they end up in
//! unit names, file names, URLs, shell arguments and SSH destinations.

/// A member or cluster name etcd-deploy accepts: it ends up in URLs, unit
/// names, file names and shell arguments. Also the check for names read
/// back from etcd's member list, which anyone with access could have set.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 63
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && n.as_bytes()[0].is_ascii_alphanumeric()
}

/// An address to reach over SSH: an IP literal or a DNS name, never
/// anything `ssh` could read as an option or a user.
pub fn valid_address(a: &str) -> bool {
    if a.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    // A host name: labels of letters, digits and '-', the last one not all
    // digits (so `999.1.1.1` and `1.2.3.4.5` are no names, and no addresses).
    let labels: Vec<&str> = a.strip_suffix('.').unwrap_or(a).split('.').collect();
    a.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()))
}

/// Two URLs of the same endpoint, whatever their scheme: a member moving
/// between http and https (`member update`) is the same member.
pub fn same_endpoint(a: &str, b: &str) -> bool {
    fn rest(u: &str) -> &str {
        u.strip_prefix("https://")
            .or_else(|| u.strip_prefix("http://"))
            .unwrap_or(u)
    }
    rest(a) == rest(b)
}

/// A member URL as etcd-deploy writes them: `http(s)://HOST:PORT`, HOST an
/// address or a container name. For URLs read back from etcd's member list.
pub fn valid_url(u: &str) -> bool {
    let Some(rest) = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
    else {
        return false;
    };
    let Some((host, port)) = rest.trim_end_matches('/').rsplit_once(':') else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    port.parse::<u16>().is_ok_and(|p| p != 0) && (valid_address(host) || valid_name(host))
}

/// Brackets an IPv6 literal for use in a URL.
pub fn url_host(addr: &str) -> String {
    if addr.contains(':') && !addr.starts_with('[') {
        format!("[{addr}]")
    } else {
        addr.to_string()
    }
}

/// The host part of a URL like `http://10.0.0.1:2380` or `http://[::1]:2380`.
pub fn host_of_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hostport = rest.split('/').next()?;
    let host = match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| host.to_string())
}
