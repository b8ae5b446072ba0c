//! A Docker token server (the `realm` of a `Bearer` challenge) whose JWTs distribution verifies.
//!
//! Tokens are RS256 JWTs with the signing certificate in `x5c`; the registry trusts that
//! self-signed certificate as its `rootcertbundle`. Signing shells out to `openssl`, which keeps
//! RSA crates out of the build.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use crate::process::{run, TempDir};
use crate::server::{parse_form, HttpServer, ServerRequest, ServerResponse};
use crate::users::{Grant, User};
use crate::KitError;

/// The `service` the registry expects as the token audience.
pub const SERVICE: &str = "porthole-testkit-registry";
/// The `iss` of every token.
pub const ISSUER: &str = "porthole-testkit-token-issuer";
/// Seconds a token lives.
pub const EXPIRES_IN: u64 = 300;

/// One requested scope: `type:name:actions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `repository` or `registry`.
    pub resource_type: String,
    /// The repository name, or `catalog`.
    pub name: String,
    /// The actions asked for.
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses `repository:team/app:pull,push`. The name may not hold `:` but the type may carry
    /// a class (`repository(plugin)`), so split at the first and the last colon.
    pub fn parse(text: &str) -> Option<Self> {
        let (resource_type, rest) = text.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        Some(Self {
            resource_type: resource_type.into(),
            name: name.into(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
        })
    }

    /// The actions of this scope that some grant allows: the intersection of asked and allowed.
    pub fn granted_by(&self, grants: &[Grant]) -> Vec<String> {
        self.actions
            .iter()
            .filter(|a| {
                grants
                    .iter()
                    .any(|g| g.allows(&self.resource_type, &self.name, a))
            })
            .cloned()
            .collect()
    }
}

/// State shared with the request handler.
#[derive(Debug)]
struct Issuer {
    users: Vec<User>,
    anonymous: Vec<Grant>,
    key_path: PathBuf,
    /// The certificate's DER, base64 (standard alphabet, as `x5c` wants).
    cert_der_b64: String,
    /// Refresh token → user name.
    refresh_tokens: Mutex<HashMap<String, String>>,
}

/// A running token server on its own loopback port; stops on drop.
#[derive(Debug)]
pub struct TokenServer {
    // Field order is drop order: stop serving before the key files go.
    server: HttpServer,
    issuer: Arc<Issuer>,
    cert_path: PathBuf,
    _dir: TempDir,
}

impl TokenServer {
    /// Generates a key and certificate and starts serving `/token`. `anonymous` is what a
    /// request without credentials may get (usually nothing).
    pub fn start(users: Vec<User>, anonymous: Vec<Grant>) -> Result<Self, KitError> {
        let dir = TempDir::new("token")?;
        let (key_path, cert_path) = generate_key_pair(dir.path())?;
        let issuer = Arc::new(Issuer {
            users,
            anonymous,
            key_path,
            cert_der_b64: cert_der_base64(&cert_path)?,
            refresh_tokens: Mutex::new(HashMap::new()),
        });
        let handler_issuer = issuer.clone();
        let server = HttpServer::start(move |req| handle(&handler_issuer, req))?;
        Ok(Self {
            server,
            issuer,
            cert_path,
            _dir: dir,
        })
    }

    /// The realm: `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("{}/token", self.server.url())
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The service name tokens are issued for (the registry's `auth.token.service`).
    pub fn service(&self) -> &'static str {
        SERVICE
    }

    /// The issuer name (the registry's `auth.token.issuer`).
    pub fn issuer(&self) -> &'static str {
        ISSUER
    }

    /// The PEM certificate the registry trusts (its `auth.token.rootcertbundle`).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Every request the server received, for tests that check what a client sent.
    pub fn requests(&self) -> Vec<ServerRequest> {
        self.server.requests()
    }

    /// Revokes every refresh token issued so far, as a token server does when they expire or a
    /// password changes: later refresh grants are answered 401 `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        if let Ok(mut tokens) = self.issuer.refresh_tokens.lock() {
            tokens.clear();
        }
    }

    /// Issues a token directly, without HTTP: `user` `None` is anonymous. The grants are the
    /// intersection of `scopes` and the user's grants, as over HTTP.
    pub fn issue(&self, user: Option<&str>, scopes: &[&str]) -> Result<String, KitError> {
        let scopes: Vec<Scope> = scopes.iter().filter_map(|s| Scope::parse(s)).collect();
        self.issuer.token(user, SERVICE, &scopes)
    }
}

fn generate_key_pair(dir: &Path) -> Result<(PathBuf, PathBuf), KitError> {
    generate_named_key_pair(dir, "token", "porthole-testkit-token-issuer")
}

/// A 2048-bit RSA key and a self-signed certificate for it: `<stem>.key`, `<stem>.crt`.
pub(crate) fn generate_named_key_pair(
    dir: &Path,
    stem: &str,
    common_name: &str,
) -> Result<(PathBuf, PathBuf), KitError> {
    let (key, cert) = (
        dir.join(format!("{stem}.key")),
        dir.join(format!("{stem}.crt")),
    );
    run(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .arg("-subj")
            .arg(format!("/CN={common_name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
        "openssl req (token signing key)",
    )?;
    Ok((key, cert))
}

/// The base64 between the PEM armour lines is exactly the certificate's DER in base64.
pub(crate) fn cert_der_base64(cert: &Path) -> Result<String, KitError> {
    let pem = fs::read_to_string(cert)
        .map_err(|e| KitError::new(format!("cannot read {}: {e}", cert.display())))?;
    Ok(pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect())
}

fn cors(response: ServerResponse) -> ServerResponse {
    response
        .header("Access-Control-Allow-Origin", "*")
        .header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        .header(
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type",
        )
        .header("Access-Control-Max-Age", "600")
}

fn handle(issuer: &Issuer, req: &ServerRequest) -> ServerResponse {
    let response = match (req.method.as_str(), req.path()) {
        ("OPTIONS", _) => ServerResponse::new(204),
        ("GET", "/token") => issuer.answer_get(req),
        ("POST", "/token") => issuer.answer_post(req),
        (_, "/token") => error(405, "unsupported_method", "use GET or POST"),
        _ => error(404, "not_found", "the token endpoint is /token"),
    };
    cors(response.header("Cache-Control", "no-store"))
}

/// An error in both shapes clients read: OAuth2's `error` and Docker's `errors` array.
fn error(status: u16, code: &str, message: &str) -> ServerResponse {
    let docker_code = if status == 401 {
        "UNAUTHORIZED"
    } else {
        "DENIED"
    };
    ServerResponse::json(
        status,
        &json!({
            "error": code,
            "error_description": message,
            "errors": [{"code": docker_code, "message": message}],
        }),
    )
}

/// Every value of `name`, each split at spaces (OAuth2 joins scopes with spaces).
fn scopes_in(params: &[(String, String)]) -> Vec<Scope> {
    params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').filter_map(Scope::parse).collect::<Vec<_>>())
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Issuer {
    fn user(&self, name: &str, password: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.name == name && u.password == password)
    }

    /// Docker's `GET /token?service=&scope=` with optional basic auth.
    fn answer_get(&self, req: &ServerRequest) -> ServerResponse {
        let params = req.query();
        let user = match req.header("authorization").map(basic_credentials) {
            None => None,
            Some(Some((name, password))) => match self.user(&name, &password) {
                Some(user) => Some(user.name.clone()),
                None => return error(401, "invalid_grant", "wrong user name or password"),
            },
            Some(None) => return error(401, "invalid_request", "unreadable Authorization"),
        };
        let offline = param(&params, "offline_token") == Some("true");
        self.respond(user, &params, offline)
    }

    /// OAuth2 `POST /token`: `grant_type=password` or `grant_type=refresh_token`.
    fn answer_post(&self, req: &ServerRequest) -> ServerResponse {
        let params = parse_form(&String::from_utf8_lossy(&req.body));
        let user = match param(&params, "grant_type") {
            Some("password") => {
                let name = param(&params, "username").unwrap_or("");
                let password = param(&params, "password").unwrap_or("");
                self.user(name, password).map(|u| u.name.clone())
            }
            Some("refresh_token") => {
                let token = param(&params, "refresh_token").unwrap_or("");
                self.refresh_tokens
                    .lock()
                    .ok()
                    .and_then(|t| t.get(token).cloned())
            }
            _ => {
                let msg = "grant_type must be password or refresh_token";
                return error(400, "unsupported_grant_type", msg);
            }
        };
        let Some(user) = user else {
            return error(401, "invalid_grant", "wrong credentials or refresh token");
        };
        let offline = param(&params, "access_type") == Some("offline");
        self.respond(Some(user), &params, offline)
    }

    fn respond(
        &self,
        user: Option<String>,
        params: &[(String, String)],
        offline: bool,
    ) -> ServerResponse {
        let service = param(params, "service").unwrap_or(SERVICE);
        let token = match self.token(user.as_deref(), service, &scopes_in(params)) {
            Ok(token) => token,
            Err(e) => return error(500, "server_error", &e.to_string()),
        };
        let mut body = json!({
            "token": token,
            "access_token": token,
            "expires_in": EXPIRES_IN,
            "issued_at": rfc3339(unix_now()),
        });
        if let (true, Some(user)) = (offline, user) {
            let refresh = random_hex(16);
            if let Ok(mut tokens) = self.refresh_tokens.lock() {
                tokens.insert(refresh.clone(), user);
            }
            body["refresh_token"] = Value::String(refresh);
        }
        ServerResponse::json(200, &body)
    }

    fn grants_of(&self, user: Option<&str>) -> &[Grant] {
        match user {
            None => &self.anonymous,
            Some(name) => self
                .users
                .iter()
                .find(|u| u.name == name)
                .map_or(&[], |u| &u.grants),
        }
    }

    /// A signed JWT for `user` (None: anonymous) granting what it may of `scopes`.
    fn token(
        &self,
        user: Option<&str>,
        service: &str,
        scopes: &[Scope],
    ) -> Result<String, KitError> {
        let grants = self.grants_of(user);
        let access: Vec<Value> = scopes
            .iter()
            .map(|s| (s, s.granted_by(grants)))
            .filter(|(_, actions)| !actions.is_empty())
            .map(
                |(s, actions)| json!({"type": s.resource_type, "name": s.name, "actions": actions}),
            )
            .collect();
        let now = unix_now();
        let claims = json!({
            "iss": ISSUER,
            "sub": user.unwrap_or(""),
            "aud": service,
            "exp": now + EXPIRES_IN,
            "nbf": now,
            "iat": now,
            "jti": random_hex(12),
            "access": access,
        });
        self.sign(&claims)
    }

    fn sign(&self, claims: &Value) -> Result<String, KitError> {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [self.cert_der_b64]});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = openssl_sign(&self.key_path, input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// `openssl dgst -sha256 -sign key` over `data`: an RS256 (PKCS#1 v1.5) signature.
pub(crate) fn openssl_sign(key: &Path, data: &[u8]) -> Result<Vec<u8>, KitError> {
    let fail = |e: std::io::Error| KitError::new(format!("openssl dgst -sign: {e}"));
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(fail)?;
    // The input is a few hundred bytes, well under a pipe buffer, so writing before reading
    // cannot deadlock.
    child
        .stdin
        .take()
        .ok_or_else(|| KitError::new("openssl: no stdin"))?
        .write_all(data)
        .map_err(fail)?;
    let output = child.wait_with_output().map_err(fail)?;
    if !output.status.success() || output.stdout.is_empty() {
        return Err(KitError::new(format!(
            "openssl dgst -sign failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

/// `Basic base64(user:password)` → (user, password).
pub(crate) fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(value.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Random hex from the kernel (`/dev/urandom`); a counter and the clock if that fails, since
/// these values only need to be unique, not secret.
pub(crate) fn random_hex(bytes: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut buf = vec![0u8; bytes];
    let filled = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if filled.is_err() {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        return format!(
            "{:x}{n:x}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, Howard Hinnant's algorithm).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_764_115_200 + 3661), "2025-11-26T01:01:01Z");
    }

    #[test]
    fn scopes_parse_and_intersect() {
        let s = Scope::parse("repository:team/app:pull,push").unwrap();
        assert_eq!(s.name, "team/app");
        assert_eq!(
            s.granted_by(&[Grant::repositories("*", &["pull"])]),
            ["pull"]
        );
        let c = Scope::parse("registry:catalog:*").unwrap();
        assert_eq!(c.granted_by(&[Grant::catalog()]), ["*"]);
        assert!(Scope::parse("nonsense").is_none());
    }

    #[test]
    fn reads_basic_credentials() {
        let header = format!("Basic {}", STANDARD.encode("alice:pa:ss"));
        assert_eq!(
            basic_credentials(&header),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
    }
}
