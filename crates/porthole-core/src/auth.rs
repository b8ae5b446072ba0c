//! Authentication: credentials, scopes, the token requests of the Docker token and OAuth2 flows,
//! and a token cache whose expiry is checked against a time the caller passes in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::transport::{Body, Method, Request};
use crate::url::{form_encode, Url};

/// A secret string (password, token). Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself; call only where it goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

/// The future a [`TokenProvider`] returns.
pub type TokenFuture = Pin<Box<dyn Future<Output = std::result::Result<Secret, String>>>>;

/// A callback that returns a registry bearer token for the scopes asked (for example from an
/// identity library). The error string is shown to the user.
pub type TokenProvider = Rc<dyn Fn(Vec<String>) -> TokenFuture>;

/// How the client authenticates.
#[derive(Clone, Default)]
pub enum Credential {
    /// No credentials (anonymous tokens are still fetched when the registry asks).
    #[default]
    Anonymous,
    /// A username and password: sent as Basic auth, or to the token server.
    Basic {
        /// The username.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A static bearer token, sent as it is.
    Bearer(Secret),
    /// An OAuth2 refresh token, exchanged at the token server (`grant_type=refresh_token`).
    RefreshToken(Secret),
    /// A callback that returns bearer tokens for given scopes.
    TokenProvider(TokenProvider),
    /// An Azure AD (Entra ID) identity for Azure Container Registry: the callback returns AAD
    /// access tokens (for `https://containerregistry.azure.net/.default`, or the audience's
    /// `/.default`), which are exchanged at the registry for an ACR refresh token, then for
    /// access tokens. An `@azure/identity` credential fits behind it.
    AadToken {
        /// Returns an AAD access token for the scopes asked.
        provider: TokenProvider,
        /// The audience of a national cloud (e.g. `https://management.usgovcloudapi.net`);
        /// `None` for ACR's own public-cloud scope.
        audience: Option<String>,
        /// The AAD tenant, sent with the exchange when known.
        tenant: Option<String>,
    },
    /// A callback whose kind of token the registry's first Bearer challenge decides (a
    /// `getToken` credential of the npm package without `tokenKind`, in front of a registry
    /// whose host does not say): when the challenge's realm is the registry's own
    /// `/oauth2/token` (ACR, or a proxy in front of ACR such as `deploy/nginx-acr.conf`), it
    /// becomes [`Self::AadToken`]; else [`Self::TokenProvider`]. Nothing is sent before that
    /// challenge.
    AadOrRegistryToken(TokenProvider),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[redacted]")
                .finish(),
            Self::Bearer(_) => f.write_str("Bearer([redacted])"),
            Self::RefreshToken(_) => f.write_str("RefreshToken([redacted])"),
            Self::TokenProvider(_) => f.write_str("TokenProvider"),
            Self::AadToken {
                audience, tenant, ..
            } => f
                .debug_struct("AadToken")
                .field("audience", audience)
                .field("tenant", tenant)
                .finish_non_exhaustive(),
            Self::AadOrRegistryToken(_) => f.write_str("AadOrRegistryToken"),
        }
    }
}

impl Credential {
    /// Username and password.
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The `Authorization` value for Basic auth, when this credential has a password.
    pub fn basic_header(&self) -> Option<String> {
        match self {
            Self::Basic { username, password } => Some(basic_header(username, password)),
            _ => None,
        }
    }
}

/// `Basic base64(user:password)`.
pub fn basic_header(username: &str, password: &Secret) -> String {
    let raw = format!("{username}:{}", password.expose());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// An access scope: `repository:ns/app:pull,push` or `registry:catalog:*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    /// `repository`, `registry`, ...
    pub resource_type: String,
    /// The resource name (may contain one `:` for a host port).
    pub name: String,
    /// The actions, sorted.
    pub actions: BTreeSet<String>,
}

impl Scope {
    /// A repository scope.
    pub fn repository(name: &str, actions: &[&str]) -> Self {
        Self {
            resource_type: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// `registry:catalog:*`.
    pub fn catalog() -> Self {
        Self {
            resource_type: "registry".into(),
            name: "catalog".into(),
            actions: ["*".to_string()].into(),
        }
    }

    /// Parses `type:name:actions`; the type ends at the first `:`, the actions start after the
    /// last one (a name may hold a `host:port`).
    pub fn parse(s: &str) -> Option<Self> {
        let (resource_type, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        let resource_type = resource_type.split('(').next().unwrap_or(resource_type);
        if resource_type.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self {
            resource_type: resource_type.into(),
            name: name.into(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    fn resource(&self) -> (String, String) {
        (self.resource_type.clone(), self.name.clone())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actions: Vec<&str> = self.actions.iter().map(String::as_str).collect();
        write!(
            f,
            "{}:{}:{}",
            self.resource_type,
            self.name,
            actions.join(",")
        )
    }
}

/// Merges scopes: one entry per resource with the union of the actions, in a stable order.
pub fn merge_scopes(scopes: impl IntoIterator<Item = Scope>) -> Vec<Scope> {
    let mut by_resource: BTreeMap<(String, String), Scope> = BTreeMap::new();
    for scope in scopes {
        by_resource
            .entry(scope.resource())
            .and_modify(|s| s.actions.extend(scope.actions.iter().cloned()))
            .or_insert(scope);
    }
    by_resource.into_values().collect()
}

/// Why a registry refused a request with `error="insufficient_scope"`, naming the right that
/// was missing from the challenge's `scope` (space-separated scopes), so the user knows what to
/// ask for: listing the catalog is not pushing to a repository.
pub fn insufficient_scope_reason(anonymous: bool, scope: Option<&str>) -> String {
    let scopes: Vec<Scope> = scope
        .unwrap_or_default()
        .split(' ')
        .filter_map(Scope::parse)
        .collect();
    let catalog = scopes
        .iter()
        .any(|s| s.resource_type == "registry" && s.name == "catalog");
    let missing: Vec<String> = scopes
        .iter()
        .filter(|s| s.resource_type == "repository")
        .map(|s| {
            let actions: Vec<&str> = s.actions.iter().map(String::as_str).collect();
            format!("{} on {}", actions.join(", "), s.name)
        })
        .collect();
    let who = if anonymous {
        "the registry refused anonymous access (insufficient_scope)"
    } else {
        "the registry refused: the credentials are valid but do not grant this access \
         (insufficient_scope)"
    };
    let what = if catalog {
        "listing the registry's repositories (the catalog, registry:catalog:*) is not allowed; \
         open a repository by its name, or ask for the catalog right"
            .to_string()
    } else if !missing.is_empty() {
        format!(
            "it needs {}; ask for those rights on the repository",
            missing.join("; ")
        )
    } else if anonymous {
        "sign in with credentials that may do this".to_string()
    } else {
        "ask for the rights this needs (pull, push or delete on the repository)".to_string()
    };
    format!("{who}; {what}")
}

/// Where tokens come from: the `realm` and `service` of a Bearer challenge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenEndpoint {
    /// The token server URL.
    pub realm: Url,
    /// The `service` parameter (may be empty).
    pub service: String,
}

/// `GET <realm>?service=..&scope=..&scope=..`, the Docker token flow; Basic auth when
/// credentials are given.
pub fn token_get_request<B>(
    endpoint: &TokenEndpoint,
    scopes: &[Scope],
    basic: Option<String>,
) -> Request<B> {
    let mut url = endpoint.realm.clone();
    if !endpoint.service.is_empty() {
        url = url.with_query_param("service", &endpoint.service);
    }
    for scope in scopes {
        url = url.with_query_param("scope", &scope.to_string());
    }
    let mut req = Request::new(Method::Get, url);
    if let Some(header) = basic {
        req = req.header("Authorization", header);
    }
    req
}

/// The grant of an OAuth2 token request.
#[derive(Debug, Clone)]
pub enum Grant<'a> {
    /// `grant_type=password`.
    Password {
        /// The username.
        username: &'a str,
        /// The password.
        password: &'a Secret,
    },
    /// `grant_type=refresh_token`.
    RefreshToken(&'a Secret),
}

/// `POST <realm>`, form encoded, the OAuth2 flow of the Docker token spec.
pub fn token_post_request<B>(
    endpoint: &TokenEndpoint,
    scopes: &[Scope],
    grant: &Grant<'_>,
    client_id: &str,
) -> Request<B> {
    let scope = scopes
        .iter()
        .map(Scope::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let mut pairs: Vec<(&str, &str)> = vec![
        ("service", endpoint.service.as_str()),
        ("client_id", client_id),
        ("scope", scope.as_str()),
    ];
    match grant {
        Grant::Password { username, password } => {
            pairs.push(("grant_type", "password"));
            pairs.push(("username", username));
            pairs.push(("password", password.expose()));
            pairs.push(("access_type", "offline"));
        }
        Grant::RefreshToken(token) => {
            pairs.push(("grant_type", "refresh_token"));
            pairs.push(("refresh_token", token.expose()));
        }
    }
    Request::new(Method::Post, endpoint.realm.clone())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .with_body(Body::Bytes(form_encode(pairs).into_bytes()))
}

/// A token granted by a token server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The bearer token.
    pub access_token: Secret,
    /// When it stops being usable, in milliseconds since the Unix epoch (a safety margin is
    /// already taken off).
    pub expires_at_ms: u64,
    /// A refresh token, when the server sent one.
    pub refresh_token: Option<Secret>,
}

#[derive(Deserialize)]
struct TokenBody {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Tokens are used up to this long before they expire, so one never runs out mid-request.
const EXPIRY_MARGIN_MS: u64 = 10_000;
/// The token spec's default lifetime when `expires_in` is absent (and its floor).
const DEFAULT_EXPIRES_IN_S: u64 = 60;

/// Parses a token server's successful answer. Expiry is `issued_at` (or `now_ms` when absent or
/// in the future, which means clock skew) plus `expires_in` (at least 60 s). A token that would
/// have expired before it arrived means this machine's clock runs ahead of the server's: it is
/// counted from now instead, or every request would fetch a new one.
pub fn parse_token_response(body: &[u8], now_ms: u64) -> Result<Token> {
    let parsed: TokenBody = serde_json::from_slice(body).map_err(|e| Error::Auth {
        step: "reading the token server's answer".into(),
        reason: format!("it is not the expected JSON ({e})"),
        status: None,
    })?;
    let access_token = parsed
        .access_token
        .or(parsed.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Auth {
            step: "reading the token server's answer".into(),
            reason: "it holds neither `token` nor `access_token`".into(),
            status: None,
        })?;
    // Without `expires_in`, a JWT's own `exp` (ACR's access tokens) says how long it lasts.
    if parsed.expires_in.is_none() {
        if let Some(exp_ms) = crate::acr::jwt_expiry_ms(&access_token) {
            let expires_at_ms =
                exp_ms.saturating_sub(EXPIRY_MARGIN_MS.min(exp_ms.saturating_sub(now_ms) / 2));
            return Ok(Token {
                access_token: Secret::new(access_token),
                expires_at_ms: unless_expired_on_arrival(
                    expires_at_ms,
                    now_ms,
                    DEFAULT_EXPIRES_IN_S * 1000,
                ),
                refresh_token: parsed.refresh_token.map(Secret::new),
            });
        }
    }
    let lifetime_ms = parsed
        .expires_in
        .unwrap_or(DEFAULT_EXPIRES_IN_S)
        .max(DEFAULT_EXPIRES_IN_S)
        .saturating_mul(1000);
    let issued_ms = parsed
        .issued_at
        .as_deref()
        .and_then(parse_rfc3339_ms)
        .filter(|&t| t <= now_ms)
        .unwrap_or(now_ms);
    let expires_at_ms = issued_ms
        .saturating_add(lifetime_ms)
        .saturating_sub(EXPIRY_MARGIN_MS);
    Ok(Token {
        access_token: Secret::new(access_token),
        expires_at_ms: unless_expired_on_arrival(expires_at_ms, now_ms, lifetime_ms),
        refresh_token: parsed.refresh_token.map(Secret::new),
    })
}

/// `expires_at_ms`, unless it is already past at `now_ms`: then `lifetime_ms` from now (less the
/// margin), since a token server does not hand out expired tokens: the clocks differ.
fn unless_expired_on_arrival(expires_at_ms: u64, now_ms: u64, lifetime_ms: u64) -> u64 {
    if expires_at_ms > now_ms {
        expires_at_ms
    } else {
        now_ms
            .saturating_add(lifetime_ms)
            .saturating_sub(EXPIRY_MARGIN_MS)
    }
}

/// Parses an RFC 3339 timestamp (`2024-01-02T03:04:05.678Z`, or with an offset) to Unix
/// milliseconds; `None` for anything else, including years past 9999 and offsets of a day or
/// more (RFC 3339 allows neither), so no arithmetic here can overflow.
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset_s) = split_offset(time)?;
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    let in_range = (0..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..=23).contains(&h)
        && (0..=59).contains(&m)
        && (0..=60).contains(&sec);
    // The fraction is digits only (any count); slicing it by bytes is then safe.
    if !in_range || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: i64 = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3600 + m * 60 + sec - offset_s;
    u64::try_from(secs * 1000 + millis).ok()
}

fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let pos = time.rfind(['+', '-'])?;
    let (clock, off) = time.split_at(pos);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let (oh, om) = off[1..].split_once(':')?;
    let (oh, om) = (oh.parse::<i64>().ok()?, om.parse::<i64>().ok()?);
    if !(0..=23).contains(&oh) || !(0..=59).contains(&om) {
        return None;
    }
    Some((clock, sign * (oh * 3600 + om * 60)))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Tokens by endpoint and scope set, each valid until its expiry.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: BTreeMap<(TokenEndpoint, String), Token>,
}

impl TokenCache {
    /// The key a token is kept under: the endpoint and the merged, sorted scopes.
    pub(crate) fn key(endpoint: &TokenEndpoint, scopes: &[Scope]) -> (TokenEndpoint, String) {
        let mut names: Vec<String> = merge_scopes(scopes.iter().cloned())
            .iter()
            .map(Scope::to_string)
            .collect();
        names.sort();
        (endpoint.clone(), names.join(" "))
    }

    /// A token for exactly these scopes that is still valid at `now_ms`.
    pub fn get(&self, endpoint: &TokenEndpoint, scopes: &[Scope], now_ms: u64) -> Option<&Token> {
        self.entries
            .get(&Self::key(endpoint, scopes))
            .filter(|t| t.expires_at_ms > now_ms)
    }

    /// Stores a token.
    pub fn insert(&mut self, endpoint: &TokenEndpoint, scopes: &[Scope], token: Token) {
        self.entries.insert(Self::key(endpoint, scopes), token);
    }

    /// Forgets the token for these scopes (after the registry refused it).
    pub fn remove(&mut self, endpoint: &TokenEndpoint, scopes: &[Scope]) {
        self.entries.remove(&Self::key(endpoint, scopes));
    }

    /// Forgets the refresh tokens answers carried for this endpoint (the token server refused
    /// one), keeping the access tokens.
    pub fn forget_refresh_tokens(&mut self, endpoint: &TokenEndpoint) {
        self.entries
            .iter_mut()
            .filter(|((e, _), _)| e == endpoint)
            .for_each(|(_, t)| t.refresh_token = None);
    }

    /// The newest refresh token any answer carried for this endpoint.
    pub fn refresh_token(&self, endpoint: &TokenEndpoint) -> Option<&Secret> {
        self.entries
            .iter()
            .filter(|((e, _), _)| e == endpoint)
            .filter_map(|(_, t)| t.refresh_token.as_ref())
            .next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::NoNativeBody;

    fn endpoint() -> TokenEndpoint {
        TokenEndpoint {
            realm: Url::parse("http://127.0.0.1:9/token").unwrap(),
            service: "reg".into(),
        }
    }

    #[test]
    fn secrets_never_print() {
        let c = Credential::basic("alice", "hunter2");
        let shown = format!("{c:?} {:?} {}", Secret::new("tok"), Secret::new("tok"));
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok\""),
            "{shown}"
        );
        assert!(shown.contains("alice"));
        assert_eq!(c.basic_header().unwrap(), "Basic YWxpY2U6aHVudGVyMg==");
        let bearer = format!("{:?}", Credential::Bearer(Secret::new("abc.def")));
        assert!(!bearer.contains("abc.def"));
    }

    #[test]
    fn scopes_parse_and_merge() {
        let s = Scope::parse("repository:host:5000/ns/app:pull,push").unwrap();
        assert_eq!(s.name, "host:5000/ns/app");
        assert_eq!(s.to_string(), "repository:host:5000/ns/app:pull,push");
        assert!(Scope::parse("nonsense").is_none());
        assert_eq!(
            Scope::parse("repository(plugin):x:pull")
                .unwrap()
                .resource_type,
            "repository"
        );
        let merged = merge_scopes([
            Scope::repository("a", &["pull"]),
            Scope::catalog(),
            Scope::repository("a", &["push", "pull"]),
            Scope::repository("b", &["delete"]),
        ]);
        let text: Vec<String> = merged.iter().map(Scope::to_string).collect();
        assert_eq!(
            text,
            [
                "registry:catalog:*",
                "repository:a:pull,push",
                "repository:b:delete"
            ]
        );
    }

    #[test]
    fn get_request_repeats_scope() {
        let req: Request<NoNativeBody> = token_get_request(
            &endpoint(),
            &[Scope::repository("a", &["pull"]), Scope::catalog()],
            Some("Basic x".into()),
        );
        assert_eq!(
            req.url.as_str(),
            "http://127.0.0.1:9/token?service=reg&scope=repository%3Aa%3Apull&scope=registry%3Acatalog%3A%2A"
        );
        assert_eq!(req.headers.get("authorization"), Some("Basic x"));
    }

    #[test]
    fn post_request_forms() {
        let pw = Secret::new("p w&");
        let req: Request<NoNativeBody> = token_post_request(
            &endpoint(),
            &[Scope::repository("a", &["pull", "push"])],
            &Grant::Password {
                username: "alice",
                password: &pw,
            },
            "porthole",
        );
        let Body::Bytes(body) = &req.body else {
            panic!("form body expected")
        };
        let body = String::from_utf8(body.clone()).unwrap();
        assert!(body.contains("grant_type=password"), "{body}");
        assert!(body.contains("password=p%20w%26"), "{body}");
        assert!(
            body.contains("scope=repository%3Aa%3Apull%2Cpush"),
            "{body}"
        );
        assert_eq!(req.method, Method::Post);
    }

    #[test]
    fn token_responses() {
        let now = 1_700_000_000_000;
        let t = parse_token_response(br#"{"token":"abc","expires_in":300}"#, now).unwrap();
        assert_eq!(t.access_token.expose(), "abc");
        assert_eq!(t.expires_at_ms, now + 300_000 - EXPIRY_MARGIN_MS);
        let t = parse_token_response(
            br#"{"access_token":"x","token":"y","issued_at":"2023-11-14T22:13:00Z","expires_in":10,"refresh_token":"r"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.access_token.expose(), "x");
        assert_eq!(
            t.expires_at_ms,
            1_699_999_980_000 + 60_000 - EXPIRY_MARGIN_MS
        );
        assert!(t.refresh_token.is_some());
        // No expires_in: a JWT's exp counts ({"exp":1700000100}).
        let jwt = r#"{"access_token":"h.eyJleHAiOjE3MDAwMDAxMDB9.s"}"#;
        let t = parse_token_response(jwt.as_bytes(), now).unwrap();
        assert_eq!(t.expires_at_ms, 1_700_000_100_000 - EXPIRY_MARGIN_MS);
        // This clock a day ahead of the server's: counted from now, not expired on arrival.
        let ahead = now + 86_400_000;
        let t = parse_token_response(
            br#"{"token":"t","issued_at":"2023-11-14T22:13:20Z","expires_in":300}"#,
            ahead,
        )
        .unwrap();
        assert_eq!(t.expires_at_ms, ahead + 300_000 - EXPIRY_MARGIN_MS);
        let t = parse_token_response(jwt.as_bytes(), ahead).unwrap();
        assert_eq!(t.expires_at_ms, ahead + 60_000 - EXPIRY_MARGIN_MS);
        for bad in [&b"{}"[..], b"not json", br#"{"token":""}"#] {
            assert_eq!(
                parse_token_response(bad, now).unwrap_err().code(),
                "AUTH_FAILED"
            );
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2023-11-15T00:13:20+02:00"),
            Some(1_700_000_000_000)
        );
        for bad in [
            "",
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-01-01",
            "2023-01-01T25:00:00Z",
            // A fraction that is not digits (a multi-byte character at the cut), a year past
            // 9999, offsets of a day or more: refused, never a panic or an overflow.
            "2024-01-02T03:04:05.a\u{20ac}Z",
            "2024-01-02T03:04:05.\u{20ac}Z",
            "99999999999-01-01T00:00:00Z",
            "2024-01-02T03:04:05+9999999999999999:00",
            "2024-01-02T03:04:05-00:99999999999999999",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
        assert_eq!(
            parse_rfc3339_ms("2023-11-14T22:13:20.500999Z"),
            Some(1_700_000_000_500)
        );
    }

    #[test]
    fn absurd_token_lifetimes_saturate() {
        let now = 1_700_000_000_000;
        let answer = br#"{"token":"t","expires_in":18446744073709551615,"issued_at":"2023-11-14T22:13:20Z"}"#;
        let token = parse_token_response(answer, now).unwrap();
        assert!(token.expires_at_ms > now, "{}", token.expires_at_ms);
        let answer = "{\"token\":\"t\",\"issued_at\":\"2024-01-02T03:04:05.a\u{20ac}Z\"}";
        let token = parse_token_response(answer.as_bytes(), now).unwrap();
        assert!(token.expires_at_ms > now);
    }

    #[test]
    fn cache_expires_and_is_keyed_by_scope() {
        let mut cache = TokenCache::default();
        let scopes = [Scope::repository("a", &["pull"])];
        let token = Token {
            access_token: Secret::new("t"),
            expires_at_ms: 1000,
            refresh_token: Some(Secret::new("r")),
        };
        cache.insert(&endpoint(), &scopes, token);
        assert!(cache.get(&endpoint(), &scopes, 999).is_some());
        assert!(cache.get(&endpoint(), &scopes, 1000).is_none());
        assert!(cache
            .get(&endpoint(), &[Scope::repository("a", &["push"])], 0)
            .is_none());
        assert_eq!(cache.refresh_token(&endpoint()).unwrap().expose(), "r");
        cache.remove(&endpoint(), &scopes);
        assert!(cache.get(&endpoint(), &scopes, 0).is_none());
    }

    #[test]
    fn insufficient_scope_names_the_missing_right() {
        let catalog = insufficient_scope_reason(false, Some("registry:catalog:*"));
        assert!(catalog.contains("credentials are valid"), "{catalog}");
        assert!(catalog.contains("catalog, registry:catalog:*"), "{catalog}");
        assert!(
            catalog.contains("open a repository by its name"),
            "{catalog}"
        );
        assert!(!catalog.contains("push"), "{catalog}");

        let push = insufficient_scope_reason(false, Some("repository:team/app:pull,push"));
        assert!(push.contains("it needs pull, push on team/app"), "{push}");

        let two = insufficient_scope_reason(true, Some("repository:a:pull repository:b:pull"));
        assert!(
            two.starts_with("the registry refused anonymous access"),
            "{two}"
        );
        assert!(two.contains("pull on a; pull on b"), "{two}");

        for unnamed in [None, Some(""), Some("nonsense")] {
            let text = insufficient_scope_reason(false, unnamed);
            assert!(text.contains("ask for the rights this needs"), "{text}");
            let text = insufficient_scope_reason(true, unnamed);
            assert!(text.contains("sign in with credentials"), "{text}");
        }
    }
}
