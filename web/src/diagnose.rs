//! Why a connection failed. The browser gives a page the same `TypeError` for a CORS refusal, a
//! preflight answered 401, mixed content and an unreachable host; a few probe requests tell them
//! apart: a plain CORS `GET /v2/`, the same with an `Authorization` header (which needs a
//! preflight), and a `no-cors` request that only says whether anything answered.

use porthole_core::{Error, TransportErrorKind};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, RequestMode};

use crate::pure::is_loopback;
use crate::state::{page_origin, AuthKind, SavedRegistry};

/// What went wrong, as a stable kind (for tests and styling), a title, what was seen, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnosis {
    /// `cors`, `preflight`, `mixed-content`, `unexposed-headers`, `token-cors`, `credentials`,
    /// `unreachable`, `not-a-registry`, `forbidden` or `other`.
    pub(crate) kind: &'static str,
    /// One line.
    pub(crate) title: String,
    /// What the probes saw.
    pub(crate) detail: String,
    /// The registry setting or proxy that fixes it.
    pub(crate) fix: String,
}

const EXPOSE: &str = "Docker-Content-Digest, WWW-Authenticate, Link, Location, Range, \
                      Content-Range, Docker-Upload-UUID, OCI-Subject";

fn proxy_fix() -> String {
    "Serve the registry on this page's origin through a proxy, so there is no CORS at all: \
     deploy/nginx.conf in the Porthole repository does it (location /v2/ proxied to the \
     registry), and so does `cargo xtask dev --registry <URL>` while developing."
        .into()
}

/// Whether the registry is an Azure Container Registry, by its host or the way of signing in.
fn is_acr(saved: &SavedRegistry, base: &porthole_core::Url) -> bool {
    saved.auth == AuthKind::AcrAad || porthole_core::acr::is_acr_host(base)
}

/// ACR allows no CORS at all, and its token realm and blob storage are other origins again.
fn acr_proxy_fix() -> String {
    "Azure Container Registry allows no CORS, so a page reaches it only through a proxy on its \
     own origin, which must also rewrite the token server in ACR's challenges and follow blob \
     redirects to ACR's storage: deploy/nginx-acr.conf in the Porthole repository does all \
     three. Then connect to the proxy's address."
        .into()
}

fn cors_settings(origin: &str) -> String {
    format!(
        "Or allow this page on the registry. For distribution (config.yml):\n\
         http:\n  headers:\n    Access-Control-Allow-Origin: ['{origin}']\n    \
         Access-Control-Allow-Methods: ['HEAD', 'GET', 'OPTIONS', 'DELETE', 'PUT', 'POST', 'PATCH']\n    \
         Access-Control-Allow-Headers: ['Authorization', 'Accept', 'Content-Type', 'Content-Range', 'Range']\n    \
         Access-Control-Expose-Headers: ['{EXPOSE}']"
    )
}

async fn probe(url: &str, mode: RequestMode, authorization: bool) -> Result<web_sys::Response, ()> {
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_mode(mode);
    init.set_cache(web_sys::RequestCache::NoStore);
    if authorization {
        let headers = web_sys::Headers::new().map_err(drop)?;
        // A dummy value: only whether the browser lets such a request through matters.
        headers
            .append("Authorization", "Basic cG9ydGhvbGU6cHJvYmU=")
            .map_err(drop)?;
        init.set_headers(&headers);
    }
    let promise = leptos::prelude::window().fetch_with_str_and_init(url, &init);
    JsFuture::from(promise)
        .await
        .map(|r| r.unchecked_into())
        .map_err(drop)
}

/// Works out why connecting to `saved` failed with `error`.
pub(crate) async fn diagnose(saved: &SavedRegistry, error: &Error) -> Diagnosis {
    let origin = page_origin();
    let Ok(base) = saved.base_url() else {
        return other(error);
    };
    let target = base.origin().to_owned();
    let ping = base.with_path("/v2/").as_str().to_owned();
    if origin.starts_with("https:")
        && base.scheme().eq_ignore_ascii_case("http")
        && !is_loopback(base.authority())
    {
        return Diagnosis {
            kind: "mixed-content",
            title: "Mixed content: an https page cannot call an http registry".into(),
            detail: format!(
                "This page is {origin}; the registry address {target} is plain http, and the \
                 browser blocks such requests whatever the registry allows."
            ),
            fix: format!(
                "Use the registry's https address, or serve the registry through this page's \
                 https origin. {}",
                proxy_fix()
            ),
        };
    }
    let with_secret = saved.auth.needs_secret();
    match probe(&ping, RequestMode::Cors, false).await {
        Ok(resp) => {
            let status = resp.status();
            let challenge = resp.headers().get("www-authenticate").ok().flatten();
            if status == 401 && challenge.is_none() && target != origin {
                return Diagnosis {
                    kind: "unexposed-headers",
                    title: "The registry hides the headers the client needs".into(),
                    detail: format!(
                        "{ping} answered 401, but the browser does not let this page read its \
                         WWW-Authenticate header (it is not in Access-Control-Expose-Headers), \
                         so the client cannot learn how to authenticate. Docker-Content-Digest \
                         and Link are probably hidden too."
                    ),
                    fix: format!(
                        "Expose them on the registry: Access-Control-Expose-Headers: {EXPOSE}. {}",
                        proxy_fix()
                    ),
                };
            }
            // Anonymous clients send an Authorization header too, once a Bearer challenge gave
            // them the registry's anonymous token.
            let sends_authorization = with_secret
                || porthole_core::headers::parse_www_authenticate(challenge.as_deref())
                    .iter()
                    .any(porthole_core::headers::Challenge::is_bearer);
            if sends_authorization
                && target != origin
                && probe(&ping, RequestMode::Cors, true).await.is_err()
            {
                return Diagnosis {
                    kind: "preflight",
                    title: "The registry refuses the CORS preflight for requests with credentials"
                        .into(),
                    detail: format!(
                        "A plain GET {ping} gets through, but the same request with an \
                         Authorization header is blocked. Such a request needs a preflight \
                         (OPTIONS), and the registry either answers it with 401 (distribution \
                         does whenever authentication is on; distribution/distribution#4458) or \
                         does not list Authorization in Access-Control-Allow-Headers."
                    ),
                    fix: format!(
                        "Put a proxy in front that answers OPTIONS itself (deploy/nginx.conf \
                         has the block), or serve the registry on this page's origin. {}",
                        proxy_fix()
                    ),
                };
            }
            if let Some(found) = token_server_blocked(&origin, challenge.as_deref()).await {
                return found;
            }
            if status == 404 {
                return Diagnosis {
                    kind: "not-a-registry",
                    title: "There is no registry API at this address".into(),
                    detail: format!("{ping} answered 404."),
                    fix: "Give the registry's root address (without /v2/ or a repository path), \
                          e.g. https://myregistry.azurecr.io."
                        .into(),
                };
            }
            credentials_or_other(saved, error, status)
        }
        Err(()) => {
            if probe(&ping, RequestMode::NoCors, false).await.is_ok() {
                Diagnosis {
                    kind: "cors",
                    title: "Blocked by CORS: the registry does not allow this page".into(),
                    detail: format!(
                        "{target} answers, but not with Access-Control-Allow-Origin for this \
                         page ({origin}), so the browser hides every answer from it."
                    ),
                    fix: if is_acr(saved, &base) {
                        acr_proxy_fix()
                    } else {
                        format!("{} {}", proxy_fix(), cors_settings(&origin))
                    },
                }
            } else {
                Diagnosis {
                    kind: "unreachable",
                    title: "The registry is unreachable".into(),
                    detail: format!(
                        "Nothing answered at {target}: the host is down, the port is wrong, the \
                         name does not resolve, or a firewall drops the connection."
                    ),
                    fix: "Check the address and that the registry is running (for a local \
                          registry: curl -i <address>/v2/). Behind a proxy, check the proxy's \
                          upstream."
                        .into(),
                }
            }
        }
    }
}

/// A registry that sends the page to a token server on another origin (GitLab, Harbor,
/// docker_auth, Keycloak) needs that server to allow the page too: the token request is blocked
/// otherwise, whatever the registry allows. Probes the realm the registry's challenge names.
async fn token_server_blocked(origin: &str, challenge: Option<&str>) -> Option<Diagnosis> {
    let challenges = porthole_core::headers::parse_www_authenticate(challenge);
    let realm = challenges
        .iter()
        .find(|c| c.is_bearer())?
        .param("realm")?
        .to_owned();
    let realm_origin = porthole_core::Url::parse(&realm).ok()?.origin().to_owned();
    if realm_origin == origin || probe(&realm, RequestMode::Cors, false).await.is_ok() {
        return None;
    }
    let reachable = probe(&realm, RequestMode::NoCors, false).await.is_ok();
    Some(Diagnosis {
        kind: "token-cors",
        title: "The token server does not allow this page".into(),
        detail: format!(
            "The registry sends clients to its token server at {realm} for a token. {}",
            if reachable {
                format!(
                    "That server answers, but not with Access-Control-Allow-Origin for this \
                     page ({origin}), so the browser hides its answer."
                )
            } else {
                "Nothing answered there: it is down, or its address is not reachable from \
                 this browser."
                    .to_owned()
            }
        ),
        fix: format!(
            "Allow this page on the token server (Access-Control-Allow-Origin: {origin}, with \
             Authorization in Access-Control-Allow-Headers), or serve the token server through \
             the same proxy as the registry and give the registry that address as its realm. {}",
            proxy_fix()
        ),
    })
}

fn credentials_or_other(saved: &SavedRegistry, error: &Error, status: u16) -> Diagnosis {
    let refused = matches!(error, Error::Auth { .. })
        || matches!(error.status(), Some(401))
        || (status == 401 && !matches!(error, Error::Transport { .. }));
    if refused {
        let what = match saved.auth {
            AuthKind::Anonymous => "The registry wants credentials, and none were given.",
            AuthKind::Basic => "The registry refused the username and password.",
            AuthKind::Bearer => "The registry refused the bearer token.",
            AuthKind::AcrAad => "The registry refused the Entra ID (AAD) token.",
        };
        return Diagnosis {
            kind: "credentials",
            title: "Wrong or missing credentials".into(),
            detail: format!("{what} It said: {error}"),
            fix: match saved.auth {
                AuthKind::AcrAad => "Paste a current token for the audience \
                    https://containerregistry.azure.net (az account get-access-token --resource \
                    https://containerregistry.azure.net --query accessToken -o tsv); tokens \
                    expire after about an hour."
                    .into(),
                AuthKind::Anonymous => "Choose username and password, a bearer token, or ACR, \
                    and connect again."
                    .into(),
                _ => "Check the credentials and connect again; for a token server, check that \
                      the user may list the catalog (registry:catalog:*)."
                    .into(),
            },
        };
    }
    if error.status() == Some(403) {
        return Diagnosis {
            kind: "forbidden",
            title: "The credentials work but do not grant this access".into(),
            detail: error.to_string(),
            fix: "Ask for pull (and catalog) rights on the registry.".into(),
        };
    }
    other(error)
}

fn other(error: &Error) -> Diagnosis {
    let kind = match error {
        Error::Transport { source, .. }
            if matches!(
                source.kind,
                TransportErrorKind::Network | TransportErrorKind::Timeout
            ) =>
        {
            "unreachable"
        }
        _ => "other",
    };
    Diagnosis {
        kind,
        title: "Connecting failed".into(),
        detail: error.to_string(),
        fix: "See the message above; the registry's own log may say more.".into(),
    }
}
