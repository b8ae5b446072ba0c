//! Debian's `docker-registry` (CNCF distribution 2.8) on a free loopback port, with its own
//! storage, in anonymous, htpasswd or token-auth mode.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use porthole_core::{Method, Request, Url};

use crate::cors;
use crate::front::CorsFront;
use crate::process::{free_port, log_tail, require_binary, run, ChildGuard, TempDir};
use crate::token::TokenServer;
use crate::transport::NativeTransport;
use crate::users::{default_users, Grant, User};
use crate::KitError;

/// Where Debian installs the registry. `PORTHOLE_REGISTRY_BIN` overrides it.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How long a registry may take to answer `/v2/`. It is up in well under a second when idle,
/// but the machine is often busy building.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Port races (another process grabbing the port between our probe and the registry's bind)
/// are retried this many times.
const START_ATTEMPTS: usize = 3;

/// The registry's `http.secret`: a test value, fixed so upload state survives nothing but
/// this one process anyway.
const HTTP_SECRET: &str = "porthole-testkit-not-a-secret";

/// How clients authenticate to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMode {
    /// No authentication: everyone may do everything.
    Anonymous,
    /// HTTP basic auth against an htpasswd (bcrypt) file. Every known user may do everything.
    Basic,
    /// Docker token auth: a `Bearer` challenge pointing at the kit's token server, whose tokens
    /// the registry verifies and whose grants it enforces.
    Token,
}

impl AuthMode {
    /// `anonymous`, `basic` or `token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Basic => "basic",
            Self::Token => "token",
        }
    }
}

/// Settings for a registry; [`RegistryBuilder::start`] runs it.
#[derive(Debug, Clone)]
pub struct RegistryBuilder {
    mode: AuthMode,
    users: Vec<User>,
    anonymous: Vec<Grant>,
    relative_urls: bool,
    binary: Option<PathBuf>,
    issuer: Option<TrustedIssuer>,
}

/// A token issuer the registry trusts instead of the kit's [`TokenServer`] (token mode): the
/// ACR emulator is one.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// The `realm` of the registry's `Bearer` challenges.
    pub realm: String,
    /// The `service` of the challenges, and the `aud` tokens must carry.
    pub service: String,
    /// The `iss` tokens must carry.
    pub issuer: String,
    /// The PEM certificate whose key signs the tokens (their `x5c` chains to it).
    pub cert_path: PathBuf,
}

impl RegistryBuilder {
    /// Trusts this issuer instead of starting a [`TokenServer`] (token mode only).
    pub fn trusted_issuer(mut self, issuer: TrustedIssuer) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Runs this registry binary instead of [`REGISTRY_BIN`] (or `PORTHOLE_REGISTRY_BIN`).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Replaces the users (default: [`default_users`]).
    pub fn users(mut self, users: Vec<User>) -> Self {
        self.users = users;
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: User) -> Self {
        self.users.push(user);
        self
    }

    /// Lets anonymous token requests get this grant (token mode; default: nothing).
    pub fn anonymous_grant(mut self, grant: Grant) -> Self {
        self.anonymous.push(grant);
        self
    }

    /// Makes the registry send relative `Location` headers (`http.relativeurls`).
    pub fn relative_urls(mut self, relative: bool) -> Self {
        self.relative_urls = relative;
        self
    }

    /// Starts the registry (and its token server in token mode) and waits until `/v2/` answers.
    pub fn start(self) -> Result<Registry, KitError> {
        let bin = match &self.binary {
            Some(path) => path.display().to_string(),
            None => std::env::var("PORTHOLE_REGISTRY_BIN").unwrap_or_else(|_| REGISTRY_BIN.into()),
        };
        require_binary(
            &bin,
            "docker-registry is not installed: run `cargo xtask setup`",
        )?;
        let dir = TempDir::new("registry")?;
        let auth = self.auth_section(dir.path())?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match self.try_start(&bin, &dir, &auth) {
                Ok((child, port)) => {
                    return Ok(Registry {
                        child,
                        token: auth.token,
                        mode: self.mode,
                        users: self.users,
                        port,
                        log_path: dir.path().join("registry.log"),
                        dir,
                    })
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| KitError::new("the registry did not start")))
    }

    fn auth_section(&self, dir: &Path) -> Result<Auth, KitError> {
        match self.mode {
            AuthMode::Anonymous => Ok(Auth::default()),
            AuthMode::Basic => {
                let path = write_htpasswd(dir, &self.users)?;
                let yaml = format!(
                    "auth:\n  htpasswd:\n    realm: porthole-testkit\n    path: \"{}\"\n",
                    path.display()
                );
                Ok(Auth { yaml, token: None })
            }
            AuthMode::Token if self.issuer.is_some() => {
                let issuer = self.issuer.as_ref().expect("checked by the guard");
                let yaml = format!(
                    "auth:\n  token:\n    realm: \"{}\"\n    service: \"{}\"\n    \
                     issuer: \"{}\"\n    rootcertbundle: \"{}\"\n",
                    issuer.realm,
                    issuer.service,
                    issuer.issuer,
                    issuer.cert_path.display()
                );
                Ok(Auth { yaml, token: None })
            }
            AuthMode::Token => {
                let token = TokenServer::start(self.users.clone(), self.anonymous.clone())?;
                let yaml = format!(
                    "auth:\n  token:\n    realm: \"{}\"\n    service: \"{}\"\n    \
                     issuer: \"{}\"\n    rootcertbundle: \"{}\"\n",
                    token.realm(),
                    token.service(),
                    token.issuer(),
                    token.cert_path().display()
                );
                Ok(Auth {
                    yaml,
                    token: Some(token),
                })
            }
        }
    }

    fn try_start(
        &self,
        bin: &str,
        dir: &TempDir,
        auth: &Auth,
    ) -> Result<(ChildGuard, u16), KitError> {
        let port = free_port()?;
        let config = dir.path().join("config.yml");
        let yaml = config_yaml(dir.path(), port, self.relative_urls, &auth.yaml);
        fs::write(&config, yaml)
            .map_err(|e| KitError::new(format!("cannot write {}: {e}", config.display())))?;
        let mut command = Command::new(bin);
        command.arg("serve").arg(&config);
        // REGISTRY_* variables override the file; one left in the environment would silently
        // change every test registry.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("REGISTRY_") {
                command.env_remove(name);
            }
        }
        let log = dir.path().join("registry.log");
        let mut child = ChildGuard::spawn("docker-registry", command, &log)?;
        wait_until_up(
            &mut child,
            &format!("http://127.0.0.1:{port}"),
            &log,
            &instance_name(port),
        )?;
        Ok((child, port))
    }
}

/// The `auth:` part of the config, and the token server it points at.
#[derive(Default)]
struct Auth {
    yaml: String,
    token: Option<TokenServer>,
}

fn write_htpasswd(dir: &Path, users: &[User]) -> Result<PathBuf, KitError> {
    let mut lines = Vec::new();
    for user in users {
        let line = run(
            Command::new("htpasswd").args(["-Bbn", &user.name, &user.password]),
            "htpasswd (from apache2-utils; run `cargo xtask setup`)",
        )?;
        lines.push(String::from_utf8_lossy(&line).trim().to_string());
    }
    let path = dir.join("htpasswd");
    fs::write(&path, lines.join("\n") + "\n")
        .map_err(|e| KitError::new(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// A name for the server this process starts on `port`, which it sends as
/// `X-Porthole-Instance`: an answer without it comes from another server that took the port
/// between the probe and the bind.
pub(crate) fn instance_name(port: u16) -> String {
    format!("{}-{port}", std::process::id())
}

fn config_yaml(dir: &Path, port: u16, relative_urls: bool, auth: &str) -> String {
    let mut yaml = String::from("version: 0.1\nlog:\n  level: warn\n  formatter: text\n");
    let _ = write!(
        yaml,
        "storage:\n  filesystem:\n    rootdirectory: \"{}\"\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n",
        dir.join("data").display()
    );
    let _ = write!(
        yaml,
        "http:\n  addr: 127.0.0.1:{port}\n  secret: {HTTP_SECRET}\n  relativeurls: {relative_urls}\n  \
         headers:\n    Access-Control-Allow-Origin: ['*']\n    \
         Access-Control-Allow-Methods: ['{}']\n    Access-Control-Allow-Headers: ['{}']\n    \
         Access-Control-Expose-Headers: ['{}']\n    Access-Control-Max-Age: ['{}']\n    \
         X-Porthole-Instance: ['{}']\n",
        cors::ALLOW_METHODS,
        cors::ALLOW_HEADERS,
        cors::EXPOSE_HEADERS,
        cors::MAX_AGE,
        instance_name(port)
    );
    yaml.push_str(auth);
    yaml
}

/// Polls `base/v2/` until an HTTP answer of `instance` comes (401 counts: the registry is up);
/// an answer without it is another server on the port, and an error.
pub(crate) fn wait_until_up(
    child: &mut ChildGuard,
    base: &str,
    log: &Path,
    instance: &str,
) -> Result<(), KitError> {
    let transport = NativeTransport::new().with_io_timeout(Some(Duration::from_secs(5)));
    let url =
        Url::parse(&format!("{base}/v2/")).map_err(|e| KitError::new(format!("bad URL: {e}")))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(exit) = child.exited() {
            return Err(KitError::new(format!(
                "{exit} before answering on {base}; log tail:\n{}",
                log_tail(log, 30)
            )));
        }
        if let Ok(answer) = transport.send_blocking(Request::new(Method::Get, url.clone())) {
            if answer
                .headers
                .get_all("x-porthole-instance")
                .any(|v| v == instance)
            {
                return Ok(());
            }
            return Err(KitError::new(format!(
                "another server answers on {base} (the port was taken before our server \
                 bound it)"
            )));
        }
        if Instant::now() > deadline {
            return Err(KitError::new(format!(
                "no answer from {url} after {START_TIMEOUT:?}; log tail:\n{}",
                log_tail(log, 30)
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running registry. Dropping it kills the registry (and its token server) and removes its
/// storage.
#[derive(Debug)]
pub struct Registry {
    // Field order is drop order: the process goes before the files it uses.
    child: ChildGuard,
    token: Option<TokenServer>,
    mode: AuthMode,
    users: Vec<User>,
    port: u16,
    log_path: PathBuf,
    dir: TempDir,
}

impl Registry {
    /// Settings for a registry in this mode, with the default users.
    pub fn builder(mode: AuthMode) -> RegistryBuilder {
        RegistryBuilder {
            mode,
            users: default_users(),
            anonymous: Vec::new(),
            relative_urls: false,
            binary: None,
            issuer: None,
        }
    }

    /// Starts a registry in this mode with the default users.
    pub fn start(mode: AuthMode) -> Result<Self, KitError> {
        Self::builder(mode).start()
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The URL of a path on the registry, such as `/v2/`.
    pub fn endpoint(&self, path: &str) -> Url {
        Url::parse(&format!("{}{path}", self.url())).expect("a loopback URL is valid")
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The auth mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The users (meaningful in basic and token mode).
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The user of that name.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The token server, in token mode.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// The registry process id (to check that drop really ends it).
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The registry's storage root.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The last `lines` lines of the registry's log (warnings and the access log), for a failing
    /// test to print.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// Starts an nginx front that answers CORS preflights itself (the registry answers them
    /// 401 when auth is on) and proxies everything else, `/token` to the token server.
    pub fn start_front(&self) -> Result<CorsFront, KitError> {
        CorsFront::start(
            &self.url(),
            self.token.as_ref().map(TokenServer::url).as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{HttpServer, ServerResponse};

    /// A server that answers on the port, but is not the one started: refused, so the start is
    /// tried again on another port instead of using someone else's server.
    #[test]
    fn an_answer_from_another_server_is_not_ours() {
        let dir = TempDir::new("wait-test").unwrap();
        let log = dir.path().join("sleep.log");
        let mut command = Command::new("sleep");
        command.arg("30");
        let mut child = ChildGuard::spawn("sleep", command, &log).unwrap();
        let stranger = HttpServer::start(|_| ServerResponse::new(401)).unwrap();
        let error = wait_until_up(&mut child, &stranger.url(), &log, "ours").unwrap_err();
        assert!(error.to_string().contains("another server"), "{error}");
        let ours =
            HttpServer::start(|_| ServerResponse::new(401).header("X-Porthole-Instance", "ours"))
                .unwrap();
        wait_until_up(&mut child, &ours.url(), &log, "ours").unwrap();
    }
}
