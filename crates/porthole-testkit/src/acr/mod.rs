//! An Azure Container Registry emulator: the ACR extensions in front of a real registry.
//!
//! [`AcrEmulator::start`] runs Debian's `docker-registry` in token mode, trusting a key only the
//! emulator holds, and serves on its own loopback port (one origin):
//!
//! * `/v2/...`: proxied to the registry, bodies streamed both ways, except blob reads: those
//!   ACR redirects (`307`) to its storage account, which a second port plays (`storage`). The registry's challenges
//!   already name the emulator (`realm=http://<host>/oauth2/token`, `service=<host>`), so access
//!   control on pulls and pushes is the registry's own. Before proxying, ACR's locks are applied
//!   (see [`Attributes`]); pushes by tag are learned, to answer `/acr/v1`.
//! * `/oauth2/exchange` and `/oauth2/token`: AAD token → ACR refresh token → ACR access token, as
//!   in reference/acr-rest-api.md section 3. AAD tokens come from the emulator's own test
//!   authority ([`AcrEmulator::aad_token`]).
//! * `/acr/v1/...`: catalog, repository, tag and manifest properties, paged with ACR's relative
//!   `Link` header (sections 4 and 6).
//! * CORS on everything, so browser tests can call it cross-origin. **Real ACR allows no CORS**
//!   (reference section 0; its answers expose a few headers but name no allowed origin), nor
//!   does its storage account: a page reaches ACR only through a same-origin proxy that also
//!   follows the storage redirects (deploy/nginx-acr.conf, whose e2e test puts it in front of
//!   this emulator). Tests that call the emulator cross-origin test the client, not that path.

mod api;
mod jwt;
mod oauth;
mod proxy;
mod storage;
mod store;

use std::io::{BufReader, BufWriter};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use porthole_core::Url;
use serde_json::{json, Value};

use crate::http1::{self, BodyReader, Framing};
use crate::process::TempDir;
use crate::registry::{AuthMode, Registry, TrustedIssuer};
use crate::server::ServerResponse;
use crate::token::{random_hex, unix_now};
use crate::KitError;

pub use store::Attributes;

/// The AAD audience ACR accepts by default (the SDKs ask for `<audience>/.default`).
pub const DEFAULT_AUDIENCE: &str = "https://containerregistry.azure.net";
/// The identity with push, pull, delete and metadata read/write on every repository.
pub const OWNER: &str = "owner";
/// The identity with pull and metadata read on every repository.
pub const READER: &str = "reader";
/// The admin user's name (ACR names it after the registry).
pub const ADMIN_USER: &str = "porthole-admin";
/// The admin user's password: a test value, printed by `serve`.
pub const ADMIN_PASSWORD: &str = "porthole-admin-secret";
/// The tenant of every test identity.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The `iss` of the emulator's ACR tokens (the registry's `auth.token.issuer`).
pub const ISSUER: &str = "Azure Container Registry";
/// The `iss` of AAD tokens from the test authority.
pub const AAD_ISSUER: &str = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/";

/// Every action an ACR identity can hold on repositories.
pub const ALL_ACTIONS: [&str; 5] = ["pull", "push", "delete", "metadata_read", "metadata_write"];

/// An AAD identity (a user or service principal) and what its role assignments allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcrIdentity {
    /// A name for tests to refer to it by.
    pub name: String,
    /// The AAD object id (`oid`), also the `sub` of its ACR tokens.
    pub object_id: String,
    /// Repository actions on every repository: `pull`, `push`, `delete`, `metadata_read`,
    /// `metadata_write`.
    pub actions: Vec<String>,
    /// Whether it may list the catalog (`registry:catalog:*`).
    pub catalog: bool,
}

impl AcrIdentity {
    /// An identity with these repository actions and the catalog.
    pub fn new(name: &str, actions: &[&str]) -> Self {
        let mut hex = random_hex(16);
        hex.truncate(32);
        let oid = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        Self {
            name: name.into(),
            object_id: oid,
            actions: actions.iter().map(|a| a.to_string()).collect(),
            catalog: true,
        }
    }

    /// Without the catalog, builder style.
    pub fn without_catalog(mut self) -> Self {
        self.catalog = false;
        self
    }

    /// Push, pull, delete and metadata read/write (ACR's Owner/Contributor roles).
    pub fn owner(name: &str) -> Self {
        Self::new(name, &ALL_ACTIONS)
    }

    /// Pull and metadata read (AcrPull plus Reader).
    pub fn reader(name: &str) -> Self {
        Self::new(name, &["pull", "metadata_read"])
    }
}

/// Settings for an emulator; [`AcrBuilder::start`] runs it.
#[derive(Debug, Clone)]
pub struct AcrBuilder {
    identities: Vec<AcrIdentity>,
    audience: String,
    anonymous_pull: bool,
    refresh_lifetime: Duration,
    access_lifetime: Duration,
}

impl AcrBuilder {
    /// Adds an identity (default: [`OWNER`] and [`READER`]).
    pub fn identity(mut self, identity: AcrIdentity) -> Self {
        self.identities.push(identity);
        self
    }

    /// The AAD audience `/oauth2/exchange` accepts (default [`DEFAULT_AUDIENCE`]).
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = audience.into();
        self
    }

    /// Lets anyone pull and read metadata without credentials (default: off).
    pub fn anonymous_pull(mut self, enabled: bool) -> Self {
        self.anonymous_pull = enabled;
        self
    }

    /// How long ACR refresh tokens live (default 3 hours, as ACR's do).
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_lifetime = lifetime;
        self
    }

    /// How long ACR access tokens live (default 75 minutes, as ACR's do).
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_lifetime = lifetime;
        self
    }

    /// Starts the registry and the emulator in front of it.
    pub fn start(self) -> Result<AcrEmulator, KitError> {
        let dir = TempDir::new("acr")?;
        let acr_key = jwt::Key::generate(dir.path(), "acr", "porthole-acr-emulator", true)?;
        let aad_key = jwt::Key::generate(dir.path(), "aad", "porthole-test-authority", false)?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| KitError::new(format!("cannot bind a loopback port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| KitError::new(format!("cannot read the bound address: {e}")))?;
        let service = format!("127.0.0.1:{}", addr.port());
        let registry = Registry::builder(AuthMode::Token)
            .users(Vec::new())
            .relative_urls(true)
            .trusted_issuer(TrustedIssuer {
                realm: format!("http://{service}/oauth2/token"),
                service: service.clone(),
                issuer: ISSUER.into(),
                cert_path: acr_key.cert_path().to_path_buf(),
            })
            .start()?;
        let storage = storage::Storage::start(registry.data_dir())?;
        let shared = Arc::new(Shared {
            storage: storage.signer(),
            service,
            upstream: registry.url(),
            data_dir: registry.data_dir(),
            store: store::Store::default(),
            acr_key,
            aad_key,
            identities: self.identities,
            audience: self.audience,
            anonymous_pull: AtomicBool::new(self.anonymous_pull),
            refresh_lifetime: self.refresh_lifetime,
            access_lifetime: self.access_lifetime,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = shared.clone();
            crate::server::spawn_accept_loop(listener, stop.clone(), move |stream| {
                let _ = serve_connection(stream, &shared);
            })
        };
        Ok(AcrEmulator {
            addr,
            stop,
            thread: Some(thread),
            shared,
            _storage: storage,
            registry,
            _dir: dir,
        })
    }
}

/// What the request handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `127.0.0.1:PORT`: the login server, the token `service` and `aud`.
    pub(crate) service: String,
    /// `http://127.0.0.1:PORT` of the registry.
    pub(crate) upstream: String,
    pub(crate) data_dir: std::path::PathBuf,
    /// Signs the storage URLs blob reads are redirected to.
    pub(crate) storage: storage::Signer,
    pub(crate) store: store::Store,
    pub(crate) acr_key: jwt::Key,
    pub(crate) aad_key: jwt::Key,
    pub(crate) identities: Vec<AcrIdentity>,
    pub(crate) audience: String,
    pub(crate) anonymous_pull: AtomicBool,
    pub(crate) refresh_lifetime: Duration,
    pub(crate) access_lifetime: Duration,
}

impl Shared {
    /// `Bearer realm="http://<host>/oauth2/token",service="<host>",scope="..."`, as ACR sends.
    pub(crate) fn challenge(&self, scope: &str, insufficient: bool) -> String {
        let mut value = format!(
            "Bearer realm=\"http://{0}/oauth2/token\",service=\"{0}\",scope=\"{scope}\"",
            self.service
        );
        if insufficient {
            value.push_str(",error=\"insufficient_scope\"");
        }
        value
    }
}

/// A running emulator and its registry. Dropping it stops both and removes their files.
#[derive(Debug)]
pub struct AcrEmulator {
    // Field order is drop order: stop serving, then storage, the registry, the key files.
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    _storage: storage::Storage,
    registry: Registry,
    _dir: TempDir,
}

impl AcrEmulator {
    /// Default settings: identities [`OWNER`] and [`READER`], the admin user, anonymous pull
    /// off, ACR's token lifetimes.
    pub fn builder() -> AcrBuilder {
        AcrBuilder {
            identities: vec![AcrIdentity::owner(OWNER), AcrIdentity::reader(READER)],
            audience: DEFAULT_AUDIENCE.into(),
            anonymous_pull: false,
            refresh_lifetime: Duration::from_secs(3 * 3600),
            access_lifetime: Duration::from_secs(75 * 60),
        }
    }

    /// Starts an emulator with the default settings.
    pub fn start() -> Result<Self, KitError> {
        Self::builder().start()
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.service)
    }

    /// The URL of a path on the emulator, such as `/acr/v1/_catalog`.
    pub fn endpoint(&self, path: &str) -> Url {
        Url::parse(&format!("{}{path}", self.url())).expect("a loopback URL is valid")
    }

    /// The login server: `127.0.0.1:PORT`, the `service` of challenges and token requests.
    pub fn service(&self) -> &str {
        &self.shared.service
    }

    /// `http://127.0.0.1:PORT/oauth2/token`
    pub fn realm(&self) -> String {
        format!("{}/oauth2/token", self.url())
    }

    /// The AAD audience `/oauth2/exchange` accepts.
    pub fn audience(&self) -> &str {
        &self.shared.audience
    }

    /// The identity of that name.
    pub fn identity(&self, name: &str) -> Option<&AcrIdentity> {
        self.shared.identities.iter().find(|i| i.name == name)
    }

    /// Turns anonymous pull on or off.
    pub fn set_anonymous_pull(&self, enabled: bool) {
        self.shared.anonymous_pull.store(enabled, Ordering::SeqCst);
    }

    /// The registry behind the emulator (its log, its pid, its storage).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// An AAD access token for the [`OWNER`] identity, as the test authority signs them.
    pub fn aad_token(&self, audience: &str, lifetime: Duration) -> Result<String, KitError> {
        self.aad_token_for(OWNER, audience, lifetime.as_secs() as i64)
    }

    /// An AAD access token for `identity`, valid for `lifetime_secs` from now (negative: it
    /// expired that long ago).
    pub fn aad_token_for(
        &self,
        identity: &str,
        audience: &str,
        lifetime_secs: i64,
    ) -> Result<String, KitError> {
        let who = self
            .identity(identity)
            .ok_or_else(|| KitError::new(format!("no identity named {identity}")))?;
        let now = unix_now() as i64;
        let (iat, exp) = if lifetime_secs < 0 {
            (now + lifetime_secs - 3600, now + lifetime_secs)
        } else {
            (now, now + lifetime_secs)
        };
        let claims = json!({
            "aud": audience,
            "iss": AAD_ISSUER,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "tid": TENANT,
            "oid": who.object_id,
            "sub": who.object_id,
            "name": who.name,
            "ver": "1.0",
        });
        self.shared.aad_key.sign(&claims)
    }

    /// What `serve` prints for browser tests beside the URL: the service, the audience, AAD
    /// tokens for [`OWNER`] and [`READER`] valid for `lifetime`, and the admin user.
    pub fn serve_json(&self, lifetime: Duration) -> Result<Value, KitError> {
        Ok(json!({
            "service": self.service(),
            "audience": self.audience(),
            "aad_tokens": {
                OWNER: self.aad_token_for(OWNER, self.audience(), lifetime.as_secs() as i64)?,
                READER: self.aad_token_for(READER, self.audience(), lifetime.as_secs() as i64)?,
            },
            "admin": {"username": ADMIN_USER, "password": ADMIN_PASSWORD},
        }))
    }
}

impl Drop for AcrEmulator {
    fn drop(&mut self) {
        crate::server::stop_accept_loop(&self.stop, self.addr, self.thread.take());
    }
}

/// Bodies of requests the emulator answers itself (forms, PATCH bodies) are at most this big.
const MAX_BODY: usize = 1024 * 1024;

/// The headers every answer carries: CORS, and what ACR adds (reference section 0).
pub(crate) fn common_headers() -> Vec<(String, String)> {
    [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers", EXPOSE_HEADERS),
        ("X-Content-Type-Options", "nosniff"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .chain(std::iter::once((
        "X-Ms-Correlation-Request-Id".to_string(),
        correlation_id(),
    )))
    .collect()
}

/// Response headers a cross-origin page must be able to read.
pub const EXPOSE_HEADERS: &str = "Docker-Content-Digest, WWW-Authenticate, Link, Location, \
    Range, Docker-Upload-UUID, Content-Length, Content-Type, Content-Range, \
    Docker-Distribution-Api-Version, X-Ms-Correlation-Request-Id, X-Ms-Int-Docker-Content-Digest, \
    OCI-Chunk-Min-Length, Retry-After, ETag";

/// Methods a cross-origin page may use.
pub const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Request headers a cross-origin page may set.
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type, Content-Length, Content-Range, \
    Accept, Range, Docker-Content-Digest, X-Ms-Client-Request-Id, \
    X-Ms-Return-Client-Request-Id, traceparent";

fn correlation_id() -> String {
    let hex = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn preflight() -> ServerResponse {
    ServerResponse::new(204)
        .header("Access-Control-Allow-Methods", ALLOW_METHODS)
        .header("Access-Control-Allow-Headers", ALLOW_HEADERS)
        .header("Access-Control-Max-Age", "600")
}

/// `404 page not found\n` as text, ACR's answer to unknown routes (reference section 5).
pub(crate) fn page_not_found() -> ServerResponse {
    ServerResponse::new(404)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(b"404 page not found\n".to_vec())
}

/// An `AcrErrors` body (reference section 5).
pub(crate) fn acr_error(status: u16, code: &str, message: &str, detail: Value) -> ServerResponse {
    // `Null`: a body recorded without `detail` (TAG_UNKNOWN) has none.
    let body = if detail.is_null() {
        json!({"errors": [{"code": code, "message": message}]})
    } else {
        json!({"errors": [{"code": code, "message": message, "detail": detail}]})
    };
    ServerResponse::new(status)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.to_string().into_bytes())
}

/// A request the emulator answers itself: the head, and a body of at most [`MAX_BODY`].
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Incoming {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub(crate) fn query(&self) -> Vec<(String, String)> {
        self.target
            .split_once('?')
            .map(|(_, q)| crate::server::parse_form(q))
            .unwrap_or_default()
    }

    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.query()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream.try_clone()?);
    let Some(head) = http1::read_head(&mut reader)? else {
        return Ok(());
    };
    let mut parts = head.start_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(http1::invalid("bad request line"));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let path = target.split('?').next().unwrap_or("").to_string();
    let mut out = BufWriter::with_capacity(64 * 1024, stream);
    if method != "OPTIONS" && (path == "/v2" || path.starts_with("/v2/")) {
        return proxy::forward(shared, &method, &target, &head, &mut reader, &mut out);
    }
    let mut body_reader = BodyReader::new(&mut reader, Framing::of(&head, false)?);
    let mut body = Vec::new();
    while let Some(piece) = body_reader.next_piece(64 * 1024)? {
        body.extend_from_slice(&piece);
        if body.len() > MAX_BODY {
            return Err(http1::invalid("request body too large"));
        }
    }
    let request = Incoming {
        method,
        target,
        headers: head.headers,
        body,
    };
    let response = if request.method == "OPTIONS" {
        preflight()
    } else if path.starts_with("/oauth2/") {
        oauth::handle(shared, &request)
    } else if path.starts_with("/acr/v1/") {
        api::handle(shared, &request).header("Docker-Distribution-Api-Version", "registry/2.0")
    } else {
        page_not_found()
    };
    let mut headers = common_headers();
    headers.extend(response.headers);
    http1::write_response(&mut out, response.status, &headers, &response.body)
}
