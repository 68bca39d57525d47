//! Which requests go through a proxy. forget decides, rather than leaving it to reqwest's
//! reading of the environment, because two rules come before any proxy setting:
//!
//! - **Loopback is never proxied.** A request to `127.0.0.1`, `::1` or `localhost` (a local
//!   simulator, `--simulate`) is plain http: sent to a proxy, its bearer token and keys
//!   would travel in clear text to wherever the proxy is.
//! - **Plain http goes nowhere but loopback.** A token is only sent over http to a loopback
//!   host, directly ([`crate::target::parse_url`] refuses other http URLs; this refuses
//!   them again).
//!
//! Everything else follows curl's variables: an https request goes through `HTTPS_PROXY`
//! (or `https_proxy`), else `ALL_PROXY` (`all_proxy`), unless `NO_PROXY` (`no_proxy`)
//! names its host. The proxy carries it as a `CONNECT` tunnel, inside which TLS runs end to
//! end, so even a proxy reached over plain http never sees the token. `HTTP_PROXY` is never
//! used: the only plain-http requests forget makes go to loopback, directly.

use std::net::IpAddr;

use url::{Host, Url};

/// Where one request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Direct,
    Proxy(Url),
    /// Not sent at all, for this reason.
    Refuse(&'static str),
}

/// Why a plain-http request to another host is never sent.
pub const PLAIN_HTTP: &str =
    "plain http to a host that is not loopback would carry the token unencrypted";

/// The proxy settings of the environment, read once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proxies {
    https: Option<Url>,
    all: Option<Url>,
    no_proxy: Vec<String>,
}

impl Proxies {
    pub fn from_env() -> Proxies {
        Proxies::from_vars(|name| std::env::var(name).ok())
    }

    /// From variables looked up by `var` (the upper-case name wins, as in curl).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Proxies {
        let get = |upper: &str| {
            var(upper)
                .or_else(|| var(&upper.to_ascii_lowercase()))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Proxies {
            https: get("HTTPS_PROXY").and_then(|v| proxy_url(&v)),
            all: get("ALL_PROXY").and_then(|v| proxy_url(&v)),
            no_proxy: get("NO_PROXY")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().trim_start_matches("*.").to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Whether any proxy is configured.
    pub fn is_empty(&self) -> bool {
        self.https.is_none() && self.all.is_none()
    }

    /// Where a request to `url` goes.
    pub fn route(&self, url: &Url) -> Route {
        if is_loopback(url) {
            return Route::Direct;
        }
        if url.scheme() != "https" {
            return Route::Refuse(PLAIN_HTTP);
        }
        if self.bypassed(url) {
            return Route::Direct;
        }
        match self.https.as_ref().or(self.all.as_ref()) {
            Some(proxy) => Route::Proxy(proxy.clone()),
            None => Route::Direct,
        }
    }

    /// `NO_PROXY`: `*`, a host name (itself and its subdomains, with or without a leading
    /// dot), or an IP address.
    fn bypassed(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.no_proxy.iter().any(|entry| {
            let entry = entry.trim_start_matches('.');
            entry == "*"
                || host == entry
                || (host.len() > entry.len()
                    && host.ends_with(entry)
                    && host.as_bytes()[host.len() - entry.len() - 1] == b'.')
        })
    }
}

/// A proxy variable's value as a URL (`host:port` alone means `http://host:port`, as in curl).
fn proxy_url(value: &str) -> Option<Url> {
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    Url::parse(&with_scheme).ok().filter(|u| u.host().is_some())
}

/// Whether `url`'s host is this machine: `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn proxies(vars: &[(&str, &str)]) -> Proxies {
        Proxies::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn routes() {
        let corporate = url("http://proxy.corp.example:3128/");
        let case = |vars: &[(&str, &str)], target: &str, want: Route| {
            assert_eq!(proxies(vars).route(&url(target)), want, "{vars:?} {target}");
        };
        let all = [
            ("HTTPS_PROXY", "http://proxy.corp.example:3128"),
            ("HTTP_PROXY", "http://proxy.corp.example:3128"),
            ("ALL_PROXY", "http://proxy.corp.example:3128"),
        ];
        // Loopback is never proxied, whatever is set.
        for target in [
            "http://127.0.0.1:8080/campaignapi/resources/v3/delete",
            "http://127.8.9.10/",
            "http://[::1]:9/",
            "http://localhost:1/",
            "https://LOCALHOST/",
            "https://127.0.0.1/",
        ] {
            case(&all, target, Route::Direct);
            case(&[("http_proxy", "127.0.0.1:9")], target, Route::Direct);
        }
        // Plain http to anything else is never sent, proxy or not.
        for vars in [&all[..], &[][..]] {
            case(
                vars,
                "http://acme.webexcampaign.io/",
                Route::Refuse(PLAIN_HTTP),
            );
            case(vars, "http://10.0.0.1/", Route::Refuse(PLAIN_HTTP));
        }
        // https goes through HTTPS_PROXY, else ALL_PROXY, as a CONNECT tunnel: a proxy
        // reached over plain http is fine, the token is inside TLS.
        let tenant = "https://acme.webexcampaign.io/campaignapi/resources/v3/delete";
        case(&all, tenant, Route::Proxy(corporate.clone()));
        case(
            &[("https_proxy", "proxy.corp.example:3128")],
            tenant,
            Route::Proxy(corporate.clone()),
        );
        case(
            &[("all_proxy", "http://proxy.corp.example:3128")],
            tenant,
            Route::Proxy(corporate.clone()),
        );
        case(
            &[
                ("HTTPS_PROXY", "http://proxy.corp.example:3128"),
                ("ALL_PROXY", "http://other.example:1"),
            ],
            tenant,
            Route::Proxy(corporate.clone()),
        );
        // HTTP_PROXY alone proxies nothing: plain http only ever goes to loopback.
        case(
            &[("HTTP_PROXY", "http://proxy.corp.example:3128")],
            tenant,
            Route::Direct,
        );
        case(&[], tenant, Route::Direct);
        // NO_PROXY: the host, its subdomains, `*`; not a host that merely ends the same.
        let no = |list: &'static str| {
            [
                ("HTTPS_PROXY", "http://proxy.corp.example:3128"),
                ("NO_PROXY", list),
            ]
        };
        case(&no("webexcampaign.io"), tenant, Route::Direct);
        case(&no(".webexcampaign.io"), tenant, Route::Direct);
        case(&no("*.webexcampaign.io"), tenant, Route::Direct);
        case(
            &no("a.example, acme.webexcampaign.io"),
            tenant,
            Route::Direct,
        );
        case(&no("*"), tenant, Route::Direct);
        case(&no("campaign.io"), tenant, Route::Proxy(corporate.clone()));
        case(&no("10.0.0.1"), "https://10.0.0.1/", Route::Direct);
        case(
            &no("10.0.0.1"),
            "https://10.0.0.2/",
            Route::Proxy(corporate),
        );
    }

    #[test]
    fn empty_or_broken_variables_configure_nothing() {
        assert!(proxies(&[]).is_empty());
        assert!(proxies(&[("HTTPS_PROXY", "  ")]).is_empty());
        assert!(proxies(&[("HTTP_PROXY", "http://p:1")]).is_empty());
        assert!(!proxies(&[("ALL_PROXY", "p:1")]).is_empty());
    }
}
