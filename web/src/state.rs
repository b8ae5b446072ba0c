//! Connections: the registries the user saved (localStorage, never a secret), secrets kept for
//! the page's life (and in sessionStorage only when the user asks), and the connected client
//! with its caches.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use leptos::prelude::*;
use porthole_browser::FetchTransport;
use porthole_core::{Credential, Manifest, RegistryClient, RepositoryName, Secret, Url};
use serde::{Deserialize, Serialize};

/// The registry key that means "this page's own origin, anonymous" (the same-origin proxy).
pub(crate) const HERE: &str = "here";

const SAVED_KEY: &str = "porthole.registries";
const SECRET_PREFIX: &str = "porthole.secret.";
const RECENT_PREFIX: &str = "porthole.recent.";
/// Repositories remembered per registry: enough to come back to the few one works with on a
/// registry that will not list them.
const RECENT_CAP: usize = 8;

/// How a saved registry authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub(crate) enum AuthKind {
    /// No credentials (anonymous tokens are still fetched when the registry asks).
    #[default]
    Anonymous,
    /// Username and password.
    Basic,
    /// A bearer token sent as it is.
    Bearer,
    /// Azure Container Registry with a pasted Entra ID (AAD) access token.
    AcrAad,
}

impl AuthKind {
    /// Whether this kind needs a secret.
    pub(crate) fn needs_secret(self) -> bool {
        self != Self::Anonymous
    }

    /// A short label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Basic => "username and password",
            Self::Bearer => "bearer token",
            Self::AcrAad => "ACR with an Entra ID token",
        }
    }
}

/// A registry the user saved. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct SavedRegistry {
    /// The key in URLs (`/r/<id>/...`).
    pub(crate) id: String,
    /// A name to show.
    pub(crate) label: String,
    /// The registry URL; empty for this page's origin (a same-origin proxy).
    pub(crate) url: String,
    /// How it authenticates.
    pub(crate) auth: AuthKind,
    /// The username, for Basic.
    #[serde(default)]
    pub(crate) username: String,
}

impl SavedRegistry {
    /// The same-origin registry, anonymous.
    pub(crate) fn here() -> Self {
        Self {
            id: HERE.into(),
            label: "This origin (same-origin proxy)".into(),
            url: String::new(),
            auth: AuthKind::Anonymous,
            username: String::new(),
        }
    }

    /// The base URL: the saved one, or this page's origin.
    pub(crate) fn base_url(&self) -> Result<Url, String> {
        let url = if self.url.trim().is_empty() {
            page_origin()
        } else {
            self.url.trim().trim_end_matches('/').to_owned()
        };
        Url::parse(&url).map_err(|e| format!("The registry address is not a URL: {e}"))
    }

    /// `host[:port]` as `docker pull` wants it: for this page's origin, the site's pull address
    /// when its deployer set one ([`site_pull_host`]), since the origin is then a proxy's; else
    /// the registry address's.
    pub(crate) fn pull_host(&self) -> String {
        site_pull_host()
            .filter(|_| self.is_this_origin())
            .unwrap_or_else(|| self.reached_at())
    }

    /// Whether the registry is reached on this page's origin (saved without an address, or
    /// with this site's own).
    fn is_this_origin(&self) -> bool {
        let page = Url::parse(&page_origin());
        match (self.base_url(), page) {
            (Ok(base), Ok(page)) => base.same_origin(&page),
            _ => self.url.trim().is_empty(),
        }
    }

    /// The hosts a pull reference may name for this registry: its pull host, then the address
    /// the page reaches it at.
    pub(crate) fn hosts(&self) -> Vec<String> {
        let mut hosts = vec![self.pull_host()];
        let reached = self.reached_at();
        if !hosts.contains(&reached) {
            hosts.push(reached);
        }
        hosts
    }

    /// `host[:port]` of the address the page reaches the registry at.
    fn reached_at(&self) -> String {
        self.base_url()
            .map(|u| u.authority().to_owned())
            .unwrap_or_default()
    }
}

/// The registry's address for pull commands when the site serves it on its own origin through a
/// proxy: the `porthole-pull-host` meta tag of index.html (`cargo xtask dist --pull-host`), if
/// its deployer set it.
pub(crate) fn site_pull_host() -> Option<String> {
    let meta = document()
        .query_selector(r#"meta[name="porthole-pull-host"]"#)
        .ok()
        .flatten()?;
    let host = meta.get_attribute("content")?.trim().to_owned();
    (!host.is_empty()).then_some(host)
}

/// This page's origin, e.g. `http://127.0.0.1:8080`.
pub(crate) fn page_origin() -> String {
    window().location().origin().unwrap_or_default()
}

fn local_storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

fn session_storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// The saved registries, from localStorage.
pub(crate) fn load_saved() -> Vec<SavedRegistry> {
    local_storage()
        .and_then(|s| s.get_item(SAVED_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn store_saved(list: &[SavedRegistry]) {
    if let (Some(storage), Ok(text)) = (local_storage(), serde_json::to_string(list)) {
        let _ = storage.set_item(SAVED_KEY, &text);
    }
}

thread_local! {
    /// Secrets typed in this page, by registry id: gone on reload unless kept in sessionStorage.
    static SECRETS: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

/// The secret for a registry: typed in this page, or kept in sessionStorage by request.
pub(crate) fn secret_for(id: &str) -> Option<String> {
    SECRETS.with(|s| s.borrow().get(id).cloned()).or_else(|| {
        session_storage().and_then(|s| s.get_item(&format!("{SECRET_PREFIX}{id}")).ok().flatten())
    })
}

/// Keeps a secret for this page, and in sessionStorage only when `remember` is set.
pub(crate) fn set_secret(id: &str, secret: &str, remember: bool) {
    SECRETS.with(|s| s.borrow_mut().insert(id.to_owned(), secret.to_owned()));
    if let Some(storage) = session_storage() {
        let key = format!("{SECRET_PREFIX}{id}");
        if remember {
            let _ = storage.set_item(&key, secret);
        } else {
            let _ = storage.remove_item(&key);
        }
    }
}

/// The repositories last opened on registry `id`, newest first (localStorage: names only).
pub(crate) fn recent_repositories(id: &str) -> Vec<String> {
    local_storage()
        .and_then(|s| s.get_item(&format!("{RECENT_PREFIX}{id}")).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Remembers that repository `name` of registry `id` was opened.
pub(crate) fn remember_repository(id: &str, name: &str) {
    let mut list = recent_repositories(id);
    if list.first().map(String::as_str) == Some(name) {
        return;
    }
    crate::pure::push_recent(&mut list, name, RECENT_CAP);
    if let (Some(storage), Ok(text)) = (local_storage(), serde_json::to_string(&list)) {
        let _ = storage.set_item(&format!("{RECENT_PREFIX}{id}"), &text);
    }
}

fn forget_recent(id: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(&format!("{RECENT_PREFIX}{id}"));
    }
}

/// Forgets the secret typed or kept for registry `id`.
pub(crate) fn forget_secret(id: &str) {
    SECRETS.with(|s| s.borrow_mut().remove(id));
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(&format!("{SECRET_PREFIX}{id}"));
    }
}

/// A credential for `saved`, or `None` when it needs a secret nobody typed yet.
pub(crate) fn credential_for(saved: &SavedRegistry, secret: Option<String>) -> Option<Credential> {
    Some(match saved.auth {
        AuthKind::Anonymous => Credential::Anonymous,
        AuthKind::Basic => Credential::Basic {
            username: saved.username.clone(),
            password: Secret::new(secret?),
        },
        AuthKind::Bearer => Credential::Bearer(Secret::new(secret?)),
        AuthKind::AcrAad => {
            let token = secret?;
            Credential::AadToken {
                provider: Rc::new(move |_scopes| {
                    let token = token.clone();
                    Box::pin(async move { Ok(Secret::new(token)) })
                }),
                audience: None,
                tenant: None,
            }
        }
    })
}

/// A connected registry: its client and what was learned and fetched through it.
#[derive(Clone)]
pub(crate) struct Conn {
    /// The saved registry it came from.
    pub(crate) saved: SavedRegistry,
    /// The client.
    pub(crate) client: RegistryClient<FetchTransport>,
    /// Manifests by digest (content by digest never changes).
    pub(crate) manifests: Rc<RefCell<HashMap<String, Rc<Manifest>>>>,
    /// Parsed config blobs by digest.
    pub(crate) configs: Rc<RefCell<HashMap<String, Rc<serde_json::Value>>>>,
    /// Repository names, once listed.
    pub(crate) repositories: Rc<RefCell<Option<Vec<String>>>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("id", &self.saved.id).finish()
    }
}

impl Conn {
    /// A client for `saved` with `credential`.
    pub(crate) fn new(saved: SavedRegistry, credential: Credential) -> Result<Self, String> {
        let base = saved.base_url()?;
        Ok(Self {
            client: RegistryClient::new(FetchTransport::new(), base, credential),
            saved,
            manifests: Rc::default(),
            configs: Rc::default(),
            repositories: Rc::default(),
        })
    }

    /// A repository of this registry.
    pub(crate) fn repo(
        &self,
        name: &str,
    ) -> Result<porthole_core::Repository<FetchTransport>, porthole_core::Error> {
        Ok(self.client.repository(RepositoryName::parse(name)?))
    }

    /// Whether the registry is known to be an Azure Container Registry.
    /// Drops a deleted manifest from the cache, so that opening it again asks the registry
    /// (and shows it gone) instead of showing what was cached.
    pub(crate) fn forget_manifest(&self, repository: &str, digest: &str) {
        let key = format!("{repository}@{digest}");
        self.manifests.borrow_mut().remove(&key);
    }

    pub(crate) fn is_acr(&self) -> bool {
        self.saved.auth == AuthKind::AcrAad || self.client.is_acr() == Some(true)
    }
}

/// The app's registry state, provided at the root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RegistryContext {
    /// The saved registries.
    pub(crate) saved: RwSignal<Vec<SavedRegistry>>,
    /// The connected registry.
    pub(crate) conn: RwSignal<Option<Conn>, LocalStorage>,
}

impl RegistryContext {
    /// A context with the saved registries loaded.
    pub(crate) fn new() -> Self {
        Self {
            saved: RwSignal::new(load_saved()),
            conn: RwSignal::new_local(None),
        }
    }

    /// The context provided by the app.
    pub(crate) fn expect_context() -> Self {
        expect_context::<Self>()
    }

    /// Saves (or replaces by id) a registry.
    pub(crate) fn save(&self, registry: SavedRegistry) {
        self.saved.update(|list| {
            list.retain(|r| r.id != registry.id);
            list.push(registry);
            store_saved(list);
        });
    }

    /// Forgets a registry and its secret.
    pub(crate) fn forget(&self, id: &str) {
        self.saved.update(|list| {
            list.retain(|r| r.id != id);
            store_saved(list);
        });
        forget_secret(id);
        forget_recent(id);
        if self
            .conn
            .with_untracked(|c| c.as_ref().is_some_and(|c| c.saved.id == id))
        {
            self.conn.set(None);
        }
    }

    /// The saved registry with this id (`here` always exists).
    pub(crate) fn find(&self, id: &str) -> Option<SavedRegistry> {
        self.saved
            .with_untracked(|list| list.iter().find(|r| r.id == id).cloned())
            .or_else(|| (id == HERE).then(SavedRegistry::here))
    }

    /// The connection for registry `id`, making it when a credential is at hand.
    pub(crate) fn connection(&self, id: &str) -> Result<Conn, ConnectNeeded> {
        if let Some(conn) = self
            .conn
            .with_untracked(|c| c.as_ref().filter(|c| c.saved.id == id).cloned())
        {
            return Ok(conn);
        }
        let saved = self.find(id).ok_or(ConnectNeeded::Unknown)?;
        let credential =
            credential_for(&saved, secret_for(id)).ok_or(ConnectNeeded::Secret(saved.clone()))?;
        let conn = Conn::new(saved, credential).map_err(ConnectNeeded::Bad)?;
        self.conn.set(Some(conn.clone()));
        Ok(conn)
    }

    /// A fresh id for a new registry.
    pub(crate) fn new_id(&self, label: &str) -> String {
        let mut slug: String = label
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        slug = slug.trim_matches('-').chars().take(32).collect();
        if slug.is_empty() || slug == HERE {
            slug = "registry".into();
        }
        let taken = |s: &str| self.saved.with_untracked(|l| l.iter().any(|r| r.id == s));
        if !taken(&slug) {
            return slug;
        }
        (2..)
            .map(|n| format!("{slug}-{n}"))
            .find(|s| !taken(s))
            .unwrap_or(slug)
    }
}

/// Why a page cannot use a registry yet.
#[derive(Debug, Clone)]
pub(crate) enum ConnectNeeded {
    /// No registry with that id is saved.
    Unknown,
    /// It needs a secret: ask for it.
    Secret(SavedRegistry),
    /// Its saved address is bad.
    Bad(String),
}
