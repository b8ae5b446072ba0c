//! The async client, generic over the [`Transport`]: the only place that loops (authentication
//! retries, paging, the upload loop). Everything it decides comes from the pure modules.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;

use crate::acr::{self, RefreshToken};
use crate::api;
use crate::auth::{
    self, insufficient_scope_reason, merge_scopes, Credential, Grant, Scope, Secret, Token,
    TokenCache, TokenEndpoint, TokenProvider,
};
use crate::digest::{Digest, Hasher};
use crate::error::{parse_error_body, Error, OciErrorCode, Result};
use crate::flight::InFlight;
use crate::headers::{self, parse_www_authenticate, Challenge};
use crate::join::{join, race, try_join};
use crate::manifest::{Descriptor, ImageIndex, Manifest, MAX_MANIFEST_BYTES};
use crate::media_type::MediaType;
use crate::reference::{RepositoryName, Tag, TagOrDigest};
use crate::retry::{Failure, RetryPolicy};
use crate::transport::{
    self, read_body_limited, BlobSource, Body, BodyStream, ByteStream, Method, Request, Response,
    Transport, TransportError, TransportErrorKind,
};
use crate::upload::{
    BlobUpload, StreamWindow, UploadOptions, UploadProgress, MAX_STREAM_CHUNK_SIZE,
};
use crate::url::Url;

/// How much of an error body is read to explain the error.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Page sizes tried in turn when the caller sets none: big pages are several times faster, and
/// registries cap `n` (distribution refuses more than 1,000 with `PAGINATION_NUMBER_INVALID`,
/// AWS ECR with `UNSUPPORTED`).
const PAGE_SIZE_LADDER: [u32; 3] = [10_000, 1_000, 100];
/// Empty pages in a row after which a listing ends, though the registry links on.
const MAX_EMPTY_PAGES_IN_A_ROW: usize = 1_000;
/// Slice size when hashing a monolithic upload before sending it.
const HASH_SLICE: u64 = 8 * 1024 * 1024;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `client_id` sent to OAuth2 token servers.
    pub client_id: String,
    /// Ask the token server with an OAuth2 `POST` (password grant) before the plain `GET`.
    pub oauth2_password_grant: bool,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            client_id: "porthole".into(),
            oauth2_password_grant: false,
            retry: RetryPolicy::default(),
        }
    }
}

/// What the client learned about how the registry authenticates.
#[derive(Debug, Default)]
struct AuthState {
    /// The token endpoint of the registry's Bearer challenge.
    endpoint: Option<TokenEndpoint>,
    /// The registry asked for Basic auth.
    basic: bool,
    cache: TokenCache,
    /// ACR refresh tokens from `/oauth2/exchange`, by token endpoint.
    acr_refresh: Vec<(TokenEndpoint, RefreshToken)>,
    /// Scopes a challenge added to the ones asked for (Quay's deletes need `pull,push`), by
    /// the scopes asked: the next request asking the same goes out with them at once. A few
    /// entries at most (one per kind of request), so a list.
    challenge_scopes: Vec<(Vec<Scope>, Vec<Scope>)>,
}

struct Inner<T> {
    transport: T,
    base: Url,
    /// What the client signs in with; an [`Credential::AadOrRegistryToken`] is replaced by
    /// what the first challenge decides.
    credential: RefCell<Credential>,
    options: ClientOptions,
    auth: RefCell<AuthState>,
    /// Token fetches under way, by cache key (see [`InFlight`]).
    token_fetches: RefCell<InFlight<(TokenEndpoint, String)>>,
    /// The index in [`PAGE_SIZE_LADDER`] the registry accepted (None: send no `n`).
    page_size_step: Cell<Option<usize>>,
    /// Whether the registry serves ACR's `/acr/v1` API (`None`: not known yet).
    pub(crate) is_acr: Cell<Option<bool>>,
}

/// A client for one registry. Cheap to clone (shared state).
pub struct RegistryClient<T> {
    inner: Rc<Inner<T>>,
}

impl<T> Clone for RegistryClient<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<T> fmt::Debug for RegistryClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.inner.base)
            .field("credential", &*self.inner.credential.borrow())
            .finish_non_exhaustive()
    }
}

/// A page request: how many items, and where to continue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page (the registry may return fewer); `None` lets the client pick.
    pub page_size: Option<u32>,
    /// A token from a previous page.
    pub continuation_token: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<I> {
    /// The items.
    pub items: Vec<I>,
    /// Where the next page starts; `None` on the last page.
    pub continuation_token: Option<String>,
}

/// Reads a listing's pages as they come and says when to stop, so that a registry linking on
/// for ever cannot loop it: at a page without a continuation token, at a token followed before
/// (pages linking back, A → B → A), at a page that begins and ends as one read before (ever
/// new links to the same items, or to pages that come round again: in a listing, no two pages
/// begin with the same item), and after [`MAX_EMPTY_PAGES_IN_A_ROW`] empty pages (one empty
/// page may be legitimate: an artifact's tags are filtered page by page).
#[derive(Debug, Clone)]
pub struct PageGuard<I> {
    followed: BTreeSet<String>,
    /// The first and last item of every page read.
    read: Vec<(I, I)>,
    empty_in_a_row: usize,
}

impl<I: PartialEq + Clone> Default for PageGuard<I> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: PartialEq + Clone> PageGuard<I> {
    /// A guard for a listing read from its first page.
    pub fn new() -> Self {
        Self {
            followed: BTreeSet::new(),
            read: Vec::new(),
            empty_in_a_row: 0,
        }
    }

    /// Takes the next page: its items to keep (none when it was read before), and the
    /// continuation token to follow, or `None` when the listing ends here.
    pub fn take(&mut self, page: Page<I>) -> (Vec<I>, Option<String>) {
        if let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
            if self.read.iter().any(|(f, l)| f == first && l == last) {
                return (Vec::new(), None);
            }
            self.read.push((first.clone(), last.clone()));
            self.empty_in_a_row = 0;
        } else {
            self.empty_in_a_row += 1;
        }
        let next = page.continuation_token.filter(|token| {
            self.empty_in_a_row < MAX_EMPTY_PAGES_IN_A_ROW && self.followed.insert(token.clone())
        });
        (page.items, next)
    }
}

/// How a listing is parsed and paged.
pub(crate) struct ListKind<I> {
    /// Parses one page's body.
    parse: fn(&[u8]) -> Result<Vec<I>>,
    /// Whether to try big page sizes first (distribution's `/v2/` listings).
    ladder: bool,
    /// The `last=` value of an item, to page on when a cross-origin registry hides `Link`.
    last_key: Option<fn(&I) -> &str>,
}

impl ListKind<String> {
    /// A `/v2/` listing of names (catalog, tags).
    pub(crate) fn v2(parse: fn(&[u8]) -> Result<Vec<String>>) -> Self {
        Self {
            parse,
            ladder: true,
            last_key: Some(String::as_str),
        }
    }
}

impl<I> ListKind<I> {
    /// An ACR `/acr/v1` listing: pages only by `Link` (ACR is reached same-origin).
    pub(crate) fn acr(parse: fn(&[u8]) -> Result<Vec<I>>) -> Self {
        Self {
            parse,
            ladder: false,
            last_key: None,
        }
    }
}

/// What `HEAD` on a manifest tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    /// The manifest digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: MediaType,
    /// Its size in bytes.
    pub size: u64,
}

/// What a failed attempt means for the upload loop.
enum ChunkOutcome {
    Acknowledged,
    Retry(Error),
    /// The registry no longer knows the session (404 `BLOB_UPLOAD_UNKNOWN`: it expired, was
    /// purged, or was cancelled by someone else).
    SessionLost(Error),
}

impl<T: Transport> RegistryClient<T> {
    /// A client for the registry at `base` (e.g. `https://myreg.azurecr.io`, or a same-origin
    /// proxy such as `http://localhost:8080`).
    pub fn new(transport: T, base: Url, credential: Credential) -> Self {
        Self::with_options(transport, base, credential, ClientOptions::default())
    }

    /// A client with explicit options.
    pub fn with_options(
        transport: T,
        base: Url,
        credential: Credential,
        options: ClientOptions,
    ) -> Self {
        Self {
            inner: Rc::new(Inner {
                transport,
                base: base.with_path("/"),
                credential: RefCell::new(credential),
                options,
                auth: RefCell::new(AuthState::default()),
                token_fetches: RefCell::default(),
                page_size_step: Cell::new(Some(0)),
                is_acr: Cell::new(None),
            }),
        }
    }

    /// The registry's base URL.
    pub fn base(&self) -> &Url {
        &self.inner.base
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.inner.transport
    }

    pub(crate) fn acr_flag(&self) -> &Cell<Option<bool>> {
        &self.inner.is_acr
    }

    /// A repository of this registry (no I/O).
    pub fn repository(&self, name: RepositoryName) -> Repository<T> {
        Repository {
            client: self.clone(),
            name,
        }
    }

    /// Checks that the base URL is a registry and that the credentials work for it.
    pub async fn ping(&self) -> Result<()> {
        let op = format!("checking the registry at {}", self.inner.base);
        let resp = self.send(&op, &[], api::ping(&self.inner.base)).await?;
        if resp.status == 404 {
            return Err(Error::protocol(format!(
                "{op}: there is no registry API at /v2/ (404); check the address"
            )));
        }
        self.expect(resp, &op, &[200]).await.map(drop)
    }

    /// One page of repository names (`/v2/_catalog`).
    pub async fn list_repositories_page(&self, page: &PageRequest) -> Result<Page<String>> {
        let base = self.inner.base.clone();
        self.list_page(
            "listing repositories",
            &[Scope::catalog()],
            page,
            |n, last| api::catalog(&base, n, last),
            ListKind::v2(api::parse_catalog),
        )
        .await
    }

    /// Every repository name, following `Link` from page to page.
    pub async fn list_repositories(&self) -> Result<Vec<String>> {
        self.collect_pages(|page| async move { self.list_repositories_page(&page).await })
            .await
    }

    pub(crate) async fn collect_pages<I, F, Fut>(&self, mut fetch: F) -> Result<Vec<I>>
    where
        I: PartialEq + Clone,
        F: FnMut(PageRequest) -> Fut,
        Fut: std::future::Future<Output = Result<Page<I>>>,
    {
        let mut all: Vec<I> = Vec::new();
        let mut request = PageRequest::default();
        let mut guard = PageGuard::new();
        loop {
            let (items, next) = guard.take(fetch(request.clone()).await?);
            all.extend(items);
            match next {
                Some(token) => request.continuation_token = Some(token),
                None => return Ok(all),
            }
        }
    }

    /// Fetches one page of a listing: from the continuation token, else with the caller's page
    /// size, else with the biggest page size the registry accepts (`laddered`: only for `/v2/`
    /// listings). A `400` to a page size the client chose itself steps down to the next size,
    /// whatever its code: registries refuse big pages with codes of their own.
    pub(crate) async fn list_page<I>(
        &self,
        op: &str,
        scopes: &[Scope],
        page: &PageRequest,
        build: impl Fn(Option<u32>, Option<&str>) -> Request<T::NativeBody>,
        kind: ListKind<I>,
    ) -> Result<Page<I>> {
        let ListKind {
            parse,
            ladder,
            last_key,
        } = kind;
        // The page size to try: kept for the client's later listings only once a page came
        // with it, so a 400 that had nothing to do with `n` (a proxy's "header too large")
        // leaves later listings their big pages.
        let mut step = self.inner.page_size_step.get();
        loop {
            let (request, laddered) = match (&page.continuation_token, page.page_size) {
                (Some(token), _) => (
                    Request::new(Method::Get, api::resume_url(&self.inner.base, token)?),
                    false,
                ),
                (None, Some(n)) => (build(Some(n), None), false),
                (None, None) if !ladder => (build(None, None), false),
                (None, None) => (
                    build(step.map(|i| PAGE_SIZE_LADDER[i]), None),
                    step.is_some(),
                ),
            };
            let url = request.url.clone();
            let resp = self.send(op, scopes, request).await?;
            if resp.status == 400 && laddered {
                // The last step sends no `n`, so a 400 to it is reported as it is.
                drop(self.error_from(resp, op).await);
                step = step
                    .map(|i| i + 1)
                    .filter(|&next| next < PAGE_SIZE_LADDER.len());
                continue;
            }
            let mut resp = self.expect(resp, op, &[200]).await?;
            if ladder && page.continuation_token.is_none() && page.page_size.is_none() {
                self.inner.page_size_step.set(step);
            }
            let body = self.read_json_body(&mut resp, op).await?;
            let mut items = parse(&body)?;
            if resp.headers_filtered {
                keep_after_last(&url, &mut items, last_key);
            }
            let mut next = headers::parse_next_link(resp.headers.get_all("link"), &url)?;
            if next.is_none() && resp.headers_filtered {
                next = hidden_link_fallback(&url, &items, last_key, &build);
            }
            return Ok(Page {
                items,
                continuation_token: next.as_ref().map(api::continuation_token),
            });
        }
    }

    pub(crate) async fn read_json_body(
        &self,
        resp: &mut Response<T::Stream>,
        op: &str,
    ) -> Result<Vec<u8>> {
        read_body_limited(&mut resp.body, 64 * 1024 * 1024)
            .await
            .map_err(|e| Error::transport(op, e))?
            .ok_or_else(|| Error::protocol(format!("{op}: the answer is larger than 64 MiB")))
    }

    /// Sends a request with authentication: adds credentials the registry is known to want,
    /// answers its 401 challenge once (fetching a token when it asks for Bearer), and retries
    /// after 429, temporary 5xx and lost connections as the [`RetryPolicy`] allows (backoff with
    /// jitter, `Retry-After`). Any other status is returned as is; when retries run out the error
    /// says how often and for how long it tried.
    pub async fn send(
        &self,
        op: &str,
        scopes: &[Scope],
        request: Request<T::NativeBody>,
    ) -> Result<Response<T::Stream>> {
        self.send_noting_lost_answers(op, scopes, request, &Cell::new(false))
            .await
    }

    /// [`Self::send`], setting `lost` when an attempt failed after its request may have reached
    /// the registry (the connection broke before the answer came): a retried `DELETE` then
    /// answered 404 most likely found the work done.
    async fn send_noting_lost_answers(
        &self,
        op: &str,
        scopes: &[Scope],
        request: Request<T::NativeBody>,
        lost: &Cell<bool>,
    ) -> Result<Response<T::Stream>> {
        let transport = &self.inner.transport;
        let policy = &self.inner.options.retry;
        let started = transport.now_millis();
        let mut challenged = false;
        let mut attempts = 0;
        // Credentials go to the registry's own origin only: an upload `Location` may name
        // another server (the spec allows it), and following it is no redirect, so the browser
        // would not drop the `Authorization` header for us.
        let foreign = !request.url.same_origin(&self.inner.base);
        let asked = scopes.to_vec();
        let mut scopes = self.with_challenge_scopes(&asked);
        loop {
            attempts += 1;
            if let Some(aborted) = transport.aborted() {
                return Err(Error::transport(op, aborted));
            }
            let mut attempt = request.clone();
            if !foreign {
                self.authorize(&mut attempt, &scopes).await?;
            }
            let sent_authorization = attempt.headers.get("authorization").is_some();
            let outcome = transport.send(attempt).await;
            let failure = match &outcome {
                Ok(resp) if resp.status == 401 && foreign => {
                    return Err(Error::Auth {
                        step: op.to_string(),
                        reason: format!(
                            "the registry sent this request to another server, {}, which asks \
                             for credentials; Porthole sends the registry's credentials to {} \
                             only. Configure the registry to keep uploads on its own address",
                            request.url.origin(),
                            self.inner.base.origin()
                        ),
                        status: Some(401),
                    });
                }
                Ok(resp) if resp.status == 401 && !challenged => {
                    challenged = true;
                    if self.answer_challenge(resp, &request.url, &scopes, op, sent_authorization)? {
                        // The registry says what the request needs: a token server may know
                        // no action the client asked for (Quay has no `delete`; deletes need
                        // `pull,push` there), so the retry asks for both, and so will the
                        // next request asking the same.
                        scopes = merge_scopes(scopes.into_iter().chain(challenge_scopes(resp)));
                        self.remember_challenge_scopes(asked.clone(), &scopes);
                        attempts -= 1; // Answering a challenge is not a failed attempt.
                        continue;
                    }
                    Failure::Status(401, None)
                }
                Ok(resp) => {
                    Failure::Status(resp.status, headers::retry_after_seconds(&resp.headers))
                }
                Err(e) => {
                    if matches!(
                        e.kind,
                        TransportErrorKind::Network | TransportErrorKind::Timeout
                    ) {
                        lost.set(true);
                    }
                    Failure::Transport(e.kind)
                }
            };
            if !failure.is_retryable(request.method) {
                return outcome.map_err(|e| Error::transport(op, e));
            }
            let now = transport.now_millis();
            let elapsed_ms = now.saturating_sub(started);
            let seed = now ^ (request.url.as_str().len() as u64) << 32;
            if let Some(wait) =
                policy.next_delay(failure, request.method, attempts, elapsed_ms, seed)
            {
                transport.sleep(wait).await;
                continue;
            }
            let last = match outcome {
                Ok(resp) if attempts == 1 => return Ok(resp),
                Ok(resp) => self.error_from(resp, op).await,
                Err(e) => Error::transport(op, e),
            };
            return Err(match attempts {
                1 => last,
                _ => Error::Retried {
                    attempts,
                    elapsed_ms,
                    last: Box::new(last),
                },
            });
        }
    }

    async fn authorize(
        &self,
        request: &mut Request<T::NativeBody>,
        scopes: &[Scope],
    ) -> Result<()> {
        let header = match &self.credential() {
            Credential::Bearer(token) => Some(format!("Bearer {}", token.expose())),
            Credential::TokenProvider(provider) => {
                let names = scopes.iter().map(Scope::to_string).collect();
                let token = provider(names).await.map_err(|reason| {
                    self.provider_failed("asking the token provider for a registry token", reason)
                })?;
                Some(format!("Bearer {}", token.expose()))
            }
            credential => {
                let endpoint = self.inner.auth.borrow().endpoint.clone();
                match endpoint {
                    Some(endpoint) => {
                        let token = self.token_for(&endpoint, scopes).await?;
                        Some(format!("Bearer {}", token.expose()))
                    }
                    None if self.inner.auth.borrow().basic => credential.basic_header(),
                    None => None,
                }
            }
        };
        if let Some(value) = header {
            request.headers.set("Authorization", value);
        }
        Ok(())
    }

    /// The error for a token provider that failed: the operation's abort when it was aborted
    /// (a provider given the signal gives up with it), else what the provider said.
    fn provider_failed(&self, step: &str, reason: String) -> Error {
        match self.inner.transport.aborted() {
            Some(aborted) => Error::transport(step, aborted),
            None => Error::Auth {
                step: step.to_string(),
                reason,
                status: None,
            },
        }
    }

    /// Decides whether a 401 can be answered by retrying with other credentials.
    fn answer_challenge(
        &self,
        resp: &Response<T::Stream>,
        url: &Url,
        scopes: &[Scope],
        op: &str,
        sent_authorization: bool,
    ) -> Result<bool> {
        let challenges = parse_www_authenticate(resp.headers.get_all("www-authenticate"));
        if challenges.is_empty() {
            let hint = if resp.headers_filtered {
                " The browser hides WWW-Authenticate from cross-origin pages unless the registry \
                 lists it in Access-Control-Expose-Headers; add it there or use a same-origin proxy."
            } else {
                ""
            };
            return Err(Error::Auth {
                step: op.to_string(),
                reason: format!(
                    "the registry answered 401 without a WWW-Authenticate challenge, so Porthole \
                     cannot tell how to log in.{hint}"
                ),
                status: Some(401),
            });
        }
        if let Some(bearer) = challenges.iter().find(|c| c.is_bearer()) {
            return self.prepare_bearer(bearer, url, scopes, sent_authorization);
        }
        let can_basic = matches!(self.credential(), Credential::Basic { .. });
        let mut auth = self.inner.auth.borrow_mut();
        if challenges.iter().any(Challenge::is_basic) && can_basic && !auth.basic {
            auth.basic = true;
            return Ok(true);
        }
        Ok(false)
    }

    fn prepare_bearer(
        &self,
        challenge: &Challenge,
        url: &Url,
        scopes: &[Scope],
        sent_authorization: bool,
    ) -> Result<bool> {
        match self.credential() {
            // The token we were given is all we have, unless this request went without one:
            // it left before another request's challenge made an `AadOrRegistryToken` a
            // token provider.
            Credential::TokenProvider(_) => return Ok(!sent_authorization),
            Credential::Bearer(_) => return Ok(false),
            _ => {}
        }
        let realm = challenge.param("realm").ok_or_else(|| Error::Auth {
            step: "reading the registry's Bearer challenge".into(),
            reason: "it names no realm (token server)".into(),
            status: Some(401),
        })?;
        let endpoint = TokenEndpoint {
            realm: url.join(realm).map_err(|e| Error::Auth {
                step: "reading the registry's Bearer challenge".into(),
                reason: format!("its realm is not a usable URL: {e}"),
                status: Some(401),
            })?,
            service: challenge.param("service").unwrap_or_default().to_string(),
        };
        if let Credential::AadOrRegistryToken(provider) = self.credential() {
            if !self.decide_token_kind(provider, &endpoint) {
                return Ok(true); // Registry tokens: the retry asks the provider.
            }
        }
        let mut auth = self.inner.auth.borrow_mut();
        // The token we sent (if any) was refused (expired early, revoked, or short of a scope):
        // drop it, so the single retry `send` allows goes out with a fresh one.
        auth.cache.remove(&endpoint, scopes);
        auth.endpoint = Some(endpoint);
        Ok(true)
    }

    /// `asked`, with the scopes a challenge added to the same before.
    fn with_challenge_scopes(&self, asked: &[Scope]) -> Vec<Scope> {
        self.inner
            .auth
            .borrow()
            .challenge_scopes
            .iter()
            .find(|(key, _)| key.as_slice() == asked)
            .map_or_else(|| asked.to_vec(), |(_, merged)| merged.clone())
    }

    /// Remembers that a challenge answered to `asked` wanted `merged`.
    fn remember_challenge_scopes(&self, asked: Vec<Scope>, merged: &[Scope]) {
        if merged != asked.as_slice() {
            let mut auth = self.inner.auth.borrow_mut();
            auth.challenge_scopes.retain(|(key, _)| *key != asked);
            auth.challenge_scopes.push((asked, merged.to_vec()));
        }
    }

    /// What the client signs in with now.
    fn credential(&self) -> Credential {
        self.inner.credential.borrow().clone()
    }

    /// Turns an [`Credential::AadOrRegistryToken`] into an AAD credential when the challenge's
    /// token server is ACR's (`/oauth2/token` on the registry's own origin), else into a
    /// registry token provider; returns whether it became AAD.
    fn decide_token_kind(&self, provider: TokenProvider, endpoint: &TokenEndpoint) -> bool {
        let acr = endpoint.realm.path() == "/oauth2/token"
            && endpoint.realm.same_origin(&self.inner.base);
        *self.inner.credential.borrow_mut() = if acr {
            Credential::AadToken {
                provider,
                audience: None,
                tenant: None,
            }
        } else {
            Credential::TokenProvider(provider)
        };
        acr
    }

    async fn token_for(&self, endpoint: &TokenEndpoint, scopes: &[Scope]) -> Result<Secret> {
        let key = TokenCache::key(endpoint, scopes);
        let fetches = &self.inner.token_fetches;
        loop {
            let now = self.inner.transport.now_millis();
            if let Some(token) = self.inner.auth.borrow().cache.get(endpoint, scopes, now) {
                return Ok(token.access_token.clone());
            }
            if !InFlight::is_fetching(fetches, &key) {
                break;
            }
            // Another operation of this client is fetching this very token: wait for it, then
            // take it from the cache (or, if that fetch failed, fetch it here). This operation's
            // own abort ends the wait: the other fetch may take long (a slow token server, a
            // token provider asking the user).
            race(
                InFlight::done(fetches, &key),
                self.inner.transport.until_aborted(),
            )
            .await;
            if let Some(source) = self.inner.transport.aborted() {
                return Err(Error::transport(token_step(endpoint, scopes), source));
            }
        }
        let _flight = InFlight::start(fetches, key);
        let merged = merge_scopes(scopes.iter().cloned());
        let token = self.fetch_token(endpoint, &merged).await?;
        let secret = token.access_token.clone();
        // Cached before the flight ends, so that its waiters find it.
        self.inner
            .auth
            .borrow_mut()
            .cache
            .insert(endpoint, scopes, token);
        Ok(secret)
    }

    async fn fetch_token(&self, endpoint: &TokenEndpoint, scopes: &[Scope]) -> Result<Token> {
        let credential = self.credential();
        if let Credential::AadToken { .. } = &credential {
            return self.acr_access_token(endpoint, scopes).await;
        }
        let step = token_step(endpoint, scopes);
        let client_id = self.inner.options.client_id.as_str();
        let refresh = match &credential {
            Credential::RefreshToken(t) => Some(t.clone()),
            _ => self
                .inner
                .auth
                .borrow()
                .cache
                .refresh_token(endpoint)
                .cloned(),
        };
        if let Some(refresh) = refresh {
            let grant = Grant::RefreshToken(&refresh);
            let req = auth::token_post_request(endpoint, scopes, &grant, client_id);
            let (status, body) = self.call_token_server(req, &step).await?;
            let kept = !matches!(credential, Credential::RefreshToken(_));
            if status == 200 || !kept {
                return self.token_answer(status, &body, step);
            }
            // A refresh token kept from an earlier answer was refused (expired, revoked): the
            // credentials themselves ask again below.
            self.inner
                .auth
                .borrow_mut()
                .cache
                .forget_refresh_tokens(endpoint);
        }
        if let (Credential::Basic { username, password }, true) =
            (&credential, self.inner.options.oauth2_password_grant)
        {
            let grant = Grant::Password { username, password };
            let req = auth::token_post_request(endpoint, scopes, &grant, client_id);
            let (status, body) = self.call_token_server(req, &step).await?;
            // Not every token server speaks OAuth2: on 404/405 fall back to GET.
            if status != 404 && status != 405 {
                return self.token_answer(status, &body, step);
            }
        }
        let req = auth::token_get_request(endpoint, scopes, credential.basic_header());
        let (status, body) = self.call_token_server(req, &step).await?;
        let acr_realm = endpoint.realm.path() == "/oauth2/token";
        if status != 200 && acr_realm && matches!(credential, Credential::Anonymous) {
            // ACR's anonymous pull: a password grant with an empty refresh token.
            let req = acr::anonymous_token_request(endpoint, scopes);
            let (status, body) = self.call_token_server(req, &step).await?;
            return self.token_answer(status, &body, step);
        }
        self.token_answer(status, &body, step)
    }

    /// ACR with an AAD identity: the ACR refresh token (exchanged for the AAD token, cached until
    /// five minutes before it expires) buys an access token for the scopes. When ACR refuses the
    /// refresh token (it expired early or was revoked), it is exchanged again once.
    async fn acr_access_token(&self, endpoint: &TokenEndpoint, scopes: &[Scope]) -> Result<Token> {
        let step = token_step(endpoint, scopes);
        // An AAD token opens every registry the identity may use, so it goes to this registry
        // only (as the Azure SDKs send it), never to a token server a challenge names elsewhere.
        if !endpoint.realm.same_origin(&self.inner.base) {
            return Err(Error::Auth {
                step,
                reason: format!(
                    "the registry's challenge names a token server on another origin ({}) than \
                     the registry ({}), and an Azure AD token is only sent to the registry \
                     itself; if the registry is behind a proxy, have the proxy rewrite the \
                     challenge's realm to its own origin (as deploy/nginx-acr.conf does)",
                    endpoint.realm.origin(),
                    self.inner.base.origin()
                ),
                status: Some(401),
            });
        }
        let client_id = self.inner.options.client_id.as_str();
        let mut force_exchange = false;
        loop {
            let refresh = self.acr_refresh_token(endpoint, force_exchange).await?;
            let grant = Grant::RefreshToken(&refresh);
            let req = auth::token_post_request(endpoint, scopes, &grant, client_id);
            let (status, body) = self.call_token_server(req, &step).await?;
            if status == 401 && !force_exchange {
                force_exchange = true;
                continue;
            }
            return self.token_answer(status, &body, step);
        }
    }

    async fn acr_refresh_token(&self, endpoint: &TokenEndpoint, force: bool) -> Result<Secret> {
        const RENEW_BEFORE_MS: u64 = 5 * 60 * 1000;
        let now = self.inner.transport.now_millis();
        {
            let mut auth = self.inner.auth.borrow_mut();
            if force {
                auth.acr_refresh.retain(|(e, _)| e != endpoint);
            }
            let cached = auth.acr_refresh.iter().find(|(e, _)| e == endpoint);
            if let Some((_, rt)) = cached.filter(|(_, rt)| rt.expires_at_ms > now + RENEW_BEFORE_MS)
            {
                return Ok(rt.token.clone());
            }
        }
        let Credential::AadToken {
            provider,
            audience,
            tenant,
        } = &self.credential()
        else {
            return Err(Error::protocol(
                "internal: no AAD credential for an ACR exchange",
            ));
        };
        let aad_scope = acr::aad_scope(audience.as_deref());
        let aad_token = provider(vec![aad_scope.clone()]).await.map_err(|reason| {
            let step = format!("asking the AAD token provider for a token for {aad_scope}");
            self.provider_failed(&step, reason)
        })?;
        let step = format!(
            "exchanging the AAD token for an ACR refresh token at {}/oauth2/exchange",
            endpoint.realm.origin()
        );
        let req = acr::exchange_request(endpoint, &aad_token, tenant.as_deref());
        let (status, body) = self.call_token_server(req, &step).await?;
        if status != 200 {
            let (errors, excerpt) = parse_error_body(&body);
            let said = errors
                .first()
                .map(|e| format!("{}: {}", e.code, e.message))
                .or(excerpt)
                .unwrap_or_default();
            return Err(Error::Auth {
                step,
                reason: format!(
                    "ACR refused the AAD token ({status}{}{said}); check that it has not expired \
                     and was issued for {aad_scope}",
                    if said.is_empty() { "" } else { ": " }
                ),
                status: Some(status),
            });
        }
        let refresh = acr::parse_exchange_response(&body, now)?;
        let token = refresh.token.clone();
        let mut auth = self.inner.auth.borrow_mut();
        auth.acr_refresh.retain(|(e, _)| e != endpoint);
        auth.acr_refresh.push((endpoint.clone(), refresh));
        Ok(token)
    }

    /// One request to a token endpoint; returns the status and up to 1 MiB of body.
    async fn call_token_server(
        &self,
        request: Request<T::NativeBody>,
        step: &str,
    ) -> Result<(u16, Vec<u8>)> {
        let mut resp = self
            .inner
            .transport
            .send(request)
            .await
            // A transport failure keeps its kind (and the CORS hint when the browser blocked it).
            .map_err(|e| Error::transport(step, e))?;
        let body = read_body_limited(&mut resp.body, 1024 * 1024)
            .await
            .map_err(|e| Error::transport(step, e))?
            .unwrap_or_default();
        Ok((resp.status, body))
    }

    /// Interprets a token endpoint's answer.
    fn token_answer(&self, status: u16, body: &[u8], step: String) -> Result<Token> {
        match status {
            200 => auth::parse_token_response(body, self.inner.transport.now_millis()),
            401 | 403 => {
                let (refused, advice) = refusal(&self.credential());
                Err(Error::Auth {
                    step,
                    reason: format!("the token server refused {refused} ({status}); {advice}"),
                    status: Some(status),
                })
            }
            status => {
                let (_, excerpt) = parse_error_body(body);
                Err(Error::Auth {
                    step,
                    reason: format!(
                        "the token server answered ({status}){}",
                        excerpt.map(|e| format!(": {e}")).unwrap_or_default()
                    ),
                    status: Some(status),
                })
            }
        }
    }

    /// Returns the response when its status is expected, else the registry's error.
    pub async fn expect(
        &self,
        resp: Response<T::Stream>,
        op: &str,
        ok: &[u16],
    ) -> Result<Response<T::Stream>> {
        if ok.contains(&resp.status) {
            Ok(resp)
        } else {
            Err(self.error_from(resp, op).await)
        }
    }

    /// Turns an error response into an [`Error`], reading the start of its body.
    pub async fn error_from(&self, mut resp: Response<T::Stream>, op: &str) -> Error {
        let body = read_prefix(&mut resp.body, ERROR_BODY_LIMIT).await;
        let (errors, body_excerpt) = parse_error_body(&body);
        // The scope a Bearer challenge names with `error="insufficient_scope"`: what was missing.
        let refused_scope = parse_www_authenticate(resp.headers.get_all("www-authenticate"))
            .iter()
            .find(|c| c.param("error") == Some("insufficient_scope"))
            .map(|c| c.param("scope").map(str::to_owned));
        if let (401, Some(scope)) = (resp.status, refused_scope) {
            let anonymous = matches!(self.credential(), Credential::Anonymous);
            return Error::Auth {
                step: op.to_string(),
                reason: insufficient_scope_reason(anonymous, scope.as_deref()),
                status: Some(401),
            };
        }
        Error::Registry {
            operation: op.to_string(),
            status: resp.status,
            errors,
            body_excerpt,
            retry_after: headers::retry_after_seconds(&resp.headers),
        }
    }
}

/// Whether a mount was refused rather than failed: the user may not read the repository mounted
/// from (a token server grants only the rights one has, and the registry then answers 401
/// `insufficient_scope`), or it is unknown. An upload of the same bytes may still be allowed.
fn mount_refused(error: &Error) -> bool {
    matches!(error, Error::Auth { .. }) || matches!(error.status(), Some(401 | 403 | 404))
}

/// When a cross-origin registry hides `Link` (not in `Access-Control-Expose-Headers`), any
/// page but an empty one may have a successor: continue after its last item with `last=`, which
/// the spec defines for exactly this, rather than stopping silently after the first page. A
/// short page is no proof of the end, since a registry may answer fewer than the `n` asked
/// (distribution 3 caps tag pages at 1,000); the price is one more request, answered empty (or
/// with nothing new, see [`keep_after_last`]), at the end of such a listing.
fn hidden_link_fallback<I, B>(
    url: &Url,
    items: &[I],
    last_key: Option<fn(&I) -> &str>,
    build: impl Fn(Option<u32>, Option<&str>) -> Request<B>,
) -> Option<Url> {
    let last = last_key?(items.last()?);
    let n = url.query_param("n").and_then(|n| n.parse().ok());
    Some(build(n, Some(last)).url)
}

/// Keeps what is new in a page asked for after `last=`. A registry that honours `last` answers
/// only items after it, in its own order (distribution's catalog sorts `/` before every other
/// character, so no byte-order test can tell), and never `last` itself, except as the first
/// item where it counts `last` in (dropped here). One that ignores `last` answers the listing
/// from its start again (distribution 2.8 on tags, unsorted), which holds `last` further in:
/// none of that page is kept, so a listing continued by [`hidden_link_fallback`] ends there
/// instead of listing everything twice.
fn keep_after_last<I>(url: &Url, items: &mut Vec<I>, last_key: Option<fn(&I) -> &str>) {
    let (Some(key), Some(last)) = (last_key, url.query_param("last")) else {
        return;
    };
    match items.iter().position(|item| key(item) == last) {
        Some(0) => {
            items.remove(0);
        }
        Some(_) => items.clear(),
        None => {}
    }
}

/// A `416` to `Range: bytes=<offset>-`: nothing is left after `offset`. Its `Content-Range`
/// (`bytes */<size>`), when the page may read it, must then give the blob's size as `offset`; a
/// blob the registry says is longer is an error, not the end.
fn range_at_end(op: &str, offset: u64, content_range: Option<&str>) -> Result<()> {
    let size = content_range
        .and_then(|v| v.trim().strip_prefix("bytes */"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    match size {
        Some(size) if size != offset => Err(Error::protocol(format!(
            "{op}: resuming at byte {offset}, the registry answered that the range is not \
             satisfiable for a blob of {size} bytes"
        ))),
        _ => Ok(()),
    }
}

fn token_step(endpoint: &TokenEndpoint, scopes: &[Scope]) -> String {
    let scope_text: Vec<String> = scopes.iter().map(Scope::to_string).collect();
    format!(
        "asking the token server {} for access [{}]",
        endpoint.realm.origin(),
        scope_text.join(" ")
    )
}

async fn read_prefix<S: BodyStream>(body: &mut S, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < limit {
        match body.next_chunk().await {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk),
            _ => break,
        }
    }
    out.truncate(limit);
    out
}

/// One repository: tags, manifests, referrers and blobs.
pub struct Repository<T> {
    pub(crate) client: RegistryClient<T>,
    pub(crate) name: RepositoryName,
}

impl<T> Clone for Repository<T> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            name: self.name.clone(),
        }
    }
}

impl<T> fmt::Debug for Repository<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Repository<T> {
    /// The repository's name.
    pub fn name(&self) -> &RepositoryName {
        &self.name
    }

    /// The registry client.
    pub fn client(&self) -> &RegistryClient<T> {
        &self.client
    }

    pub(crate) fn base(&self) -> &Url {
        &self.client.inner.base
    }

    pub(crate) fn scopes(&self, method: Method) -> Vec<Scope> {
        vec![api::scope_for(method, &self.name)]
    }

    /// One page of tags.
    pub async fn list_tags_page(&self, page: &PageRequest) -> Result<Page<String>> {
        let op = format!("listing the tags of {}", self.name);
        let base = self.base().clone();
        let name = self.name.clone();
        self.client
            .list_page(
                &op,
                &self.scopes(Method::Get),
                page,
                |n, last| api::tags(&base, &name, n, last),
                ListKind::v2(api::parse_tags),
            )
            .await
    }

    /// Every tag, following `Link` from page to page.
    pub async fn list_tags(&self) -> Result<Vec<String>> {
        self.client
            .collect_pages(|page| async move { self.list_tags_page(&page).await })
            .await
    }

    /// Fetches a manifest with every known type in `Accept`, verifying its digest: against the
    /// reference when it is a digest, and against `Docker-Content-Digest` when sent.
    pub async fn get_manifest(&self, reference: &TagOrDigest) -> Result<Manifest> {
        let op = format!("fetching manifest {}:{reference}", self.name);
        let req = api::get_manifest(self.base(), &self.name, reference, false);
        let resp = self
            .client
            .send(&op, &self.scopes(Method::Get), req)
            .await?;
        let mut resp = self.client.expect(resp, &op, &[200]).await?;
        let raw = read_body_limited(&mut resp.body, MAX_MANIFEST_BYTES)
            .await
            .map_err(|e| Error::transport(&op, e))?
            .ok_or_else(|| Error::ManifestTooLarge {
                reference: format!("{}:{reference}", self.name),
                limit: MAX_MANIFEST_BYTES,
            })?;
        let header_digest = headers::content_digest(&resp.headers)?;
        let expected = reference.digest().or(header_digest.as_ref());
        if let (Some(asked), Some(sent)) = (reference.digest(), &header_digest) {
            if asked != sent {
                return Err(Error::DigestMismatch {
                    what: format!("manifest {}@{asked} (Docker-Content-Digest)", self.name),
                    expected: asked.to_string(),
                    actual: sent.to_string(),
                });
            }
        }
        Manifest::from_bytes(
            raw,
            resp.headers.get("content-type"),
            expected,
            &format!("{}:{reference}", self.name),
        )
    }

    /// `HEAD` on a manifest: its digest, type and size, or `None` when it does not exist. When
    /// the digest header is missing (or hidden by CORS) the manifest is fetched and hashed.
    pub async fn head_manifest(&self, reference: &TagOrDigest) -> Result<Option<ManifestInfo>> {
        let op = format!("checking manifest {}:{reference}", self.name);
        let req = api::get_manifest(self.base(), &self.name, reference, true);
        let resp = self
            .client
            .send(&op, &self.scopes(Method::Head), req)
            .await?;
        if resp.status == 404 {
            return Ok(None);
        }
        let resp = self.client.expect(resp, &op, &[200]).await?;
        let digest =
            headers::content_digest(&resp.headers)?.or_else(|| reference.digest().cloned());
        let size = headers::content_length(&resp.headers);
        match (digest, size) {
            (Some(digest), Some(size)) => Ok(Some(ManifestInfo {
                digest,
                media_type: MediaType::new(resp.headers.get("content-type").unwrap_or_default()),
                size,
            })),
            _ => {
                let m = self.get_manifest(reference).await?;
                Ok(Some(ManifestInfo {
                    size: m.raw.len() as u64,
                    digest: m.digest,
                    media_type: m.media_type,
                }))
            }
        }
    }

    /// Pushes a manifest under a tag or its digest; returns its digest. When the manifest has a
    /// `subject` and the registry does not handle referrers itself (no `OCI-Subject` in the
    /// answer), the referrers fallback index is updated as the spec asks of clients.
    pub async fn put_manifest(
        &self,
        reference: &TagOrDigest,
        manifest: &Manifest,
    ) -> Result<Digest> {
        if let Some(d) = reference.digest() {
            if d != &manifest.digest {
                return Err(Error::invalid(
                    "manifest reference",
                    d.as_str(),
                    format!("the manifest's digest is {}", manifest.digest),
                ));
            }
        }
        if manifest.raw.len() > MAX_MANIFEST_BYTES {
            return Err(Error::ManifestTooLarge {
                reference: format!("{}:{reference}", self.name),
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let op = format!("pushing manifest {}:{reference}", self.name);
        let req = api::put_manifest(self.base(), &self.name, reference, manifest);
        let resp = self
            .client
            .send(&op, &self.scopes(Method::Put), req)
            .await?;
        let resp = self.client.expect(resp, &op, &[201, 200, 204]).await?;
        // The manifest is stored: only a digest the registry states can contradict ours, and a
        // header it mangled states none.
        if let Ok(Some(sent)) = headers::content_digest(&resp.headers) {
            if sent != manifest.digest {
                return Err(Error::DigestMismatch {
                    what: format!("manifest pushed to {}", self.name),
                    expected: manifest.digest.to_string(),
                    actual: sent.to_string(),
                });
            }
        }
        let handled_by_registry = resp.headers.get("oci-subject").is_some();
        if let (Some(subject), false) = (manifest.subject(), handled_by_registry) {
            self.add_to_referrers_fallback(&subject.digest, manifest.descriptor_for_referrers())
                .await?;
        }
        Ok(manifest.digest.clone())
    }

    async fn add_to_referrers_fallback(&self, subject: &Digest, entry: Descriptor) -> Result<()> {
        let tag = TagOrDigest::Tag(Tag::parse(&subject.referrers_fallback_tag())?);
        let mut index = match self.get_manifest(&tag).await {
            Ok(m) => m.as_index().cloned().unwrap_or_else(ImageIndex::empty),
            Err(e) if e.is_not_found() => ImageIndex::empty(),
            Err(e) => return Err(e),
        };
        if index.manifests.iter().any(|d| d.digest == entry.digest) {
            return Ok(());
        }
        index.manifests.push(entry);
        let manifest = Manifest::from_index(&index)?;
        let op = format!("updating the referrers index {}:{tag}", self.name);
        let req = api::put_manifest(self.base(), &self.name, &tag, &manifest);
        let resp = self
            .client
            .send(&op, &self.scopes(Method::Put), req)
            .await?;
        self.client
            .expect(resp, &op, &[201, 200, 204])
            .await
            .map(drop)
    }

    /// Deletes a manifest (by digest), or a tag where the registry supports it.
    pub async fn delete_manifest(&self, reference: &TagOrDigest) -> Result<()> {
        let op = format!("deleting {}:{reference}", self.name);
        let req = api::delete_manifest(self.base(), &self.name, reference);
        self.send_delete(&op, req).await
    }

    /// Sends a `DELETE`. A 404 after an attempt whose answer was lost is the first attempt's
    /// work: the registry deleted it, and the retry found nothing left.
    async fn send_delete(&self, op: &str, req: Request<T::NativeBody>) -> Result<()> {
        let lost = Cell::new(false);
        let resp = self
            .client
            .send_noting_lost_answers(op, &self.scopes(Method::Delete), req, &lost)
            .await?;
        if resp.status == 404 && lost.get() {
            return Ok(());
        }
        self.client
            .expect(resp, op, &[202, 200, 204])
            .await
            .map(drop)
    }

    /// The manifests that refer to `subject` (signatures, SBOMs), optionally of one artifact
    /// type. Uses the referrers API, or the fallback tag when the registry has none (404).
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        let op = format!("listing referrers of {}@{subject}", self.name);
        let mut url_req = api::referrers(self.base(), &self.name, subject, artifact_type);
        let mut found = Vec::new();
        let mut seen = BTreeSet::new();
        let mut listed = BTreeSet::new();
        let mut empty_in_a_row = 0;
        loop {
            let url = url_req.url.clone();
            // A `Link` back to a page already read ends the listing instead of looping.
            if !seen.insert(url.as_str().to_owned()) {
                return Ok(found);
            }
            let resp = self
                .client
                .send(&op, &self.scopes(Method::Get), url_req)
                .await?;
            if resp.status == 404 && found.is_empty() {
                return self.referrers_from_fallback(subject, artifact_type).await;
            }
            let mut resp = self.client.expect(resp, &op, &[200]).await?;
            let filtered = resp
                .headers
                .get("oci-filters-applied")
                .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            let body = self.client.read_json_body(&mut resp, &op).await?;
            let index: ImageIndex = serde_json::from_slice(&body).map_err(|e| Error::Parse {
                what: "the referrers list".into(),
                reason: e.to_string(),
            })?;
            // A page that lists only referrers listed before (a registry that links page after
            // page of the same under ever new URLs) ends the listing too, and so do
            // MAX_EMPTY_PAGES_IN_A_ROW empty ones (one may be legitimate); a referrer listed
            // twice is kept once.
            empty_in_a_row = if index.manifests.is_empty() {
                empty_in_a_row + 1
            } else {
                0
            };
            let total = index.manifests.len();
            let new: Vec<Descriptor> = index
                .manifests
                .into_iter()
                .filter(|d| listed.insert(d.digest.to_string()))
                .collect();
            let repeated = total > 0 && new.is_empty();
            found.extend(filter_artifacts(new, artifact_type, filtered));
            match headers::parse_next_link(resp.headers.get_all("link"), &url)? {
                Some(next) if !repeated && empty_in_a_row < MAX_EMPTY_PAGES_IN_A_ROW => {
                    url_req = Request::new(Method::Get, next);
                }
                _ => return Ok(found),
            }
        }
    }

    async fn referrers_from_fallback(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        let tag = TagOrDigest::Tag(Tag::parse(&subject.referrers_fallback_tag())?);
        match self.get_manifest(&tag).await {
            Ok(m) => Ok(m
                .as_index()
                .map(|i| filter_artifacts(i.manifests.clone(), artifact_type, false))
                .unwrap_or_default()),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The blob's size, or `None` when the repository does not have it.
    pub async fn blob_exists(&self, digest: &Digest) -> Result<Option<u64>> {
        let op = format!("checking blob {}@{digest}", self.name);
        let req = api::blob(self.base(), &self.name, digest, Method::Head);
        let resp = self
            .client
            .send(&op, &self.scopes(Method::Head), req)
            .await?;
        if resp.status == 404 {
            return Ok(None);
        }
        let resp = self.client.expect(resp, &op, &[200]).await?;
        Ok(Some(headers::content_length(&resp.headers).unwrap_or(0)))
    }

    /// Sends `GET` for a blob and returns the answer with its body unread (a registry error is
    /// an [`Error`]). The bytes are not verified: read them through [`Self::download_blob`] or a
    /// verifying stream.
    pub async fn open_blob(&self, digest: &Digest) -> Result<Response<T::Stream>> {
        let op = format!("downloading blob {}@{digest}", self.name);
        let req = api::blob(self.base(), &self.name, digest, Method::Get);
        let resp = self
            .client
            .send(&op, &self.scopes(Method::Get), req)
            .await?;
        self.client.expect(resp, &op, &[200]).await
    }

    /// Streams a blob into `sink`, hashing as it goes; returns its size. When the bytes do not
    /// hash to `digest` the call fails at the end with [`Error::DigestMismatch`]: whatever the
    /// sink received must then be discarded.
    pub async fn download_blob(
        &self,
        digest: &Digest,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<u64> {
        let op = format!("downloading blob {}@{digest}", self.name);
        let mut hasher = digest.hasher().ok_or_else(|| {
            Error::protocol(format!(
                "{op}: cannot verify digest algorithm {}",
                digest.algorithm().as_str()
            ))
        })?;
        let mut resp = self.open_blob(digest).await?;
        let announced = headers::content_length(&resp.headers);
        let (mut size, mut skip, mut resumes) = (0u64, 0u64, 0u32);
        loop {
            let chunk = match resp.body.next_chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                // Every announced byte came before the break: nothing is left to ask for (the
                // registry would answer 416); the digest check decides.
                Err(_) if announced == Some(size) => break,
                // The connection broke inside the body: ask for the rest with a Range request.
                Err(e) => {
                    resumes += 1;
                    match self.resume_blob(digest, size, e, resumes).await? {
                        Some(rest) => (resp, skip) = rest,
                        // Nothing was left after all; the digest check decides.
                        None => break,
                    }
                    continue;
                }
            };
            // After a resume answered 200 (Range ignored), the bytes already had are skipped.
            let dropped = skip.min(chunk.len() as u64) as usize;
            skip -= dropped as u64;
            let chunk = &chunk[dropped..];
            hasher.update(chunk);
            size += chunk.len() as u64;
            sink(chunk)?;
        }
        hasher.finish_and_check(&format!("blob {}@{digest}", self.name), digest)?;
        Ok(size)
    }

    /// After the body of a blob download broke with `error` once `offset` bytes had arrived,
    /// waits the retry policy's back-off and asks for the rest with a `Range` request. Returns
    /// the new answer and how many of its leading bytes to skip (all of `offset` when the
    /// registry ignored the Range and sent everything). `None` when the registry answers `416`:
    /// nothing is left after `offset` (a body without `Content-Length` that broke after its last
    /// byte), and the bytes had are the whole blob if they hash to `digest`. `attempt` counts the
    /// resumes of this download, 1 for the first; when the policy's attempts are spent, or the
    /// failure is not one a retry can mend, `error` comes back as the download's error.
    pub async fn resume_blob(
        &self,
        digest: &Digest,
        offset: u64,
        error: TransportError,
        attempt: u32,
    ) -> Result<Option<(Response<T::Stream>, u64)>> {
        let op = format!("downloading blob {}@{digest}", self.name);
        let policy = self.client.inner.options.retry;
        if !Failure::Transport(error.kind).is_retryable(Method::Get)
            || attempt >= policy.max_attempts
        {
            return Err(Error::transport(&op, error));
        }
        let seed = self.client.transport().now_millis();
        self.client
            .transport()
            .sleep(policy.backoff_ms(attempt, seed))
            .await;
        let req = api::blob::<T::NativeBody>(self.base(), &self.name, digest, Method::Get)
            .header("Range", format!("bytes={offset}-"));
        let resp = self
            .client
            .send(&op, &self.scopes(Method::Get), req)
            .await?;
        if resp.status == 416 {
            return range_at_end(&op, offset, resp.headers.get("content-range")).map(|()| None);
        }
        let resp = self.client.expect(resp, &op, &[200, 206]).await?;
        if resp.status == 200 {
            return Ok(Some((resp, offset)));
        }
        // A browser hides Content-Range from a cross-origin page unless the registry exposes
        // it; a 206 to the one open range asked for then starts where it was asked to.
        let Some(content_range) = resp.headers.get("content-range") else {
            return Ok(Some((resp, 0)));
        };
        let start = content_range
            .trim()
            .strip_prefix("bytes ")
            .and_then(|v| v.split('-').next())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if start != Some(offset) {
            return Err(Error::protocol(format!(
                "{op}: resuming at byte {offset}, the registry answered Content-Range \
                 {content_range:?}"
            )));
        }
        Ok(Some((resp, 0)))
    }

    /// A whole blob in memory, verified before it is returned.
    pub async fn get_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        self.get_blob_at_most(digest, usize::MAX).await
    }

    /// A whole blob in memory, verified, refused as soon as more than `limit` bytes arrive:
    /// for blobs a descriptor says are small (configs), which a broken or hostile registry
    /// could otherwise answer with gigabytes that wasm memory keeps.
    pub async fn get_blob_at_most(&self, digest: &Digest, limit: usize) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.download_blob(digest, &mut |chunk| {
            if bytes.len().saturating_add(chunk.len()) > limit {
                return Err(Error::protocol(format!(
                    "the registry sent more than {limit} bytes for blob {digest}, more than \
                     was expected of it; the download was stopped"
                )));
            }
            bytes.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
        Ok(bytes)
    }

    /// Deletes a blob.
    pub async fn delete_blob(&self, digest: &Digest) -> Result<()> {
        let op = format!("deleting blob {}@{digest}", self.name);
        let req = api::blob(self.base(), &self.name, digest, Method::Delete);
        self.send_delete(&op, req).await
    }

    /// Uploads a blob from `source` and returns its digest. Chunks are hashed while they are on
    /// the wire; a failed chunk is resumed from the offset the session reports; on failure or
    /// abort the session is cancelled so the registry can drop it.
    pub async fn upload_blob<S: BlobSource<T::NativeBody> + ?Sized>(
        &self,
        source: &S,
        options: UploadOptions,
        progress: &mut dyn FnMut(UploadProgress),
    ) -> Result<Digest> {
        let mut upload = BlobUpload::new(self.name.clone(), source.size(), options);
        self.open_session(&mut upload).await?;
        self.finish_upload(&mut upload, source, progress).await
    }

    /// Uploads a blob read from a stream whose length is known only at its end (a JS
    /// `ReadableStream`, a pipe). The stream is read one chunk (`options.chunk_size`, at most
    /// [`MAX_STREAM_CHUNK_SIZE`]) at a time into one buffer; the chunk is then sent while it is
    /// hashed, and kept until the registry confirms it, so a failed chunk resumes from what the
    /// session holds; then the next is read. Memory holds that one chunk (plus the copy a
    /// transport makes to send it), whatever the stream's length. It always goes in chunks
    /// (`monolithic_max` does not apply), and progress reports' `total` grows as it is read.
    ///
    /// Unlike a [`BlobSource`], a stream cannot be read again: when the registry loses the
    /// session after the first chunk (a lost answer on distribution, a session expired or
    /// purged), the upload fails and says so; the session is cancelled on any failure.
    pub async fn upload_blob_stream<R: ByteStream + ?Sized>(
        &self,
        stream: &mut R,
        options: UploadOptions,
        progress: &mut dyn FnMut(UploadProgress),
    ) -> Result<Digest> {
        let op = format!("uploading a stream to {}", self.name);
        if options.chunk_size > MAX_STREAM_CHUNK_SIZE {
            return Err(Error::invalid(
                "chunk size",
                &options.chunk_size.to_string(),
                format!(
                    "a streamed upload holds its chunk in memory, and this is more than the {} \
                     MiB it accepts: use a smaller chunk size (64 MiB by default), or upload \
                     from a file",
                    MAX_STREAM_CHUNK_SIZE >> 20
                ),
            ));
        }
        let mut upload = BlobUpload::new(self.name.clone(), 0, options);
        upload.hash_separately();
        self.open_session(&mut upload).await?;
        let result = self.stream_chunks(&mut upload, stream, progress, &op).await;
        self.settle(&mut upload, result, progress).await
    }

    /// Sends the stream window by window: each window is read, then sent (resuming within it
    /// after failures) while it is hashed, then the next is read.
    async fn stream_chunks<R: ByteStream + ?Sized>(
        &self,
        upload: &mut BlobUpload,
        stream: &mut R,
        progress: &mut dyn FnMut(UploadProgress),
        op: &str,
    ) -> Result<Digest> {
        // The session is open: its chunk size honours the registry's OCI-Chunk-Min-Length.
        let chunk = upload.chunk_size();
        if chunk > MAX_STREAM_CHUNK_SIZE {
            return Err(Error::protocol(format!(
                "{op}: the registry asks for chunks of at least {chunk} bytes \
                 (OCI-Chunk-Min-Length), more than the {} MiB a streamed upload holds in memory; \
                 upload from a file (a Blob or File) instead, which is read slice by slice",
                MAX_STREAM_CHUNK_SIZE >> 20
            )));
        }
        let mut hasher = upload.new_hasher();
        let mut window = StreamWindow::default();
        loop {
            let ended = window.fill(stream, chunk as usize, op).await?;
            if !window.bytes().is_empty() {
                upload.grow(window.end());
                progress(upload.progress());
                let restartable = window.start() == 0;
                let body_of = |start, end| window.body(start, end);
                let send = self.send_chunks(upload, &body_of, progress, op, restartable);
                // Polled after `send`, so the PATCH is on its way first; in slices, so that a
                // PATCH still waiting for a token starts between them and the page stays
                // responsive.
                let hash = async {
                    for slice in window.bytes().chunks(HASH_SLICE as usize) {
                        hasher.update(slice);
                        self.client.transport().sleep(0).await;
                    }
                    Ok(())
                };
                try_join(send, hash).await?;
            }
            if ended {
                break;
            }
            window.advance();
        }
        upload.set_digest(hasher.finish());
        let size = upload.progress().total;
        let req = upload.commit_request()?;
        self.commit(upload, req, size, op).await
    }

    /// `POST`s for a new upload session and hands its answer to `upload`. A `POST` is not
    /// repeated by [`RegistryClient::send`] after an ambiguous failure (a lost connection, 500,
    /// 502, 504); opening a session is, as the policy allows: the worst a repeat does is leave
    /// an empty session the registry expires, and it saves a whole upload.
    async fn open_session(&self, upload: &mut BlobUpload) -> Result<()> {
        let op = format!("opening an upload session in {}", self.name);
        let policy = self.client.inner.options.retry;
        let mut failures = 0;
        let resp = loop {
            let sent = self
                .client
                .send(
                    &op,
                    &self.scopes(Method::Post),
                    upload.start_request(self.base()),
                )
                .await;
            let error = match sent {
                Ok(resp) if resp.status == 202 || !is_ambiguous(resp.status) => {
                    break self.client.expect(resp, &op, &[202]).await?
                }
                Ok(resp) => self.client.error_from(resp, &op).await,
                Err(e) => e,
            };
            failures += 1;
            let retry = matches!(&error, Error::Transport { .. } | Error::Registry { .. })
                && error.is_retryable()
                && failures < policy.max_attempts;
            if !retry {
                return Err(error);
            }
            let seed = self.client.transport().now_millis();
            self.client
                .transport()
                .sleep(policy.backoff_ms(failures, seed))
                .await;
        };
        let url = resp
            .url
            .clone()
            .unwrap_or_else(|| api::start_upload::<T::NativeBody>(self.base(), &self.name).url);
        upload.handle_session(resp.status, &resp.headers, &url, resp.headers_filtered)
    }

    /// Mounts a blob from another repository of the same registry. `true` when mounted; `false`
    /// when the registry opened an upload session instead (cancelled here; upload the blob).
    pub async fn mount_blob(&self, digest: &Digest, from: &RepositoryName) -> Result<bool> {
        let Some((resp, url)) = self.request_mount(digest, from).await? else {
            return Ok(false);
        };
        if resp.status == 201 {
            return Ok(true);
        }
        if let Some(location) = headers::location(&resp.headers, &url)? {
            let cancel = Request::new(Method::Delete, location);
            let op = format!("cancelling the upload session in {}", self.name);
            // Cancelling is a courtesy; a failure only leaves a session the registry expires.
            let _ = self
                .client
                .send(&op, &self.scopes(Method::Delete), cancel)
                .await;
        }
        Ok(false)
    }

    /// Mounts a blob from another repository, or uploads it from `source` in the session the
    /// registry opened when it could not mount.
    pub async fn mount_or_upload<S: BlobSource<T::NativeBody> + ?Sized>(
        &self,
        digest: &Digest,
        from: &RepositoryName,
        source: &S,
        progress: &mut dyn FnMut(UploadProgress),
    ) -> Result<Digest> {
        let options = UploadOptions {
            expected_digest: Some(digest.clone()),
            ..UploadOptions::default()
        };
        let Some((resp, url)) = self.request_mount(digest, from).await? else {
            // Not allowed to read `from` (or no such repository): the bytes are at hand.
            return self.upload_blob(source, options, progress).await;
        };
        if resp.status == 201 {
            return Ok(digest.clone());
        }
        let mut upload = BlobUpload::new(self.name.clone(), source.size(), options);
        upload.handle_session(resp.status, &resp.headers, &url, resp.headers_filtered)?;
        self.finish_upload(&mut upload, source, progress).await
    }

    /// Asks the registry to mount `digest` from `from`: its answer (201 mounted, 202 a session
    /// opened instead) with the request's URL, or `None` when the mount was refused
    /// ([`mount_refused`]).
    async fn request_mount(
        &self,
        digest: &Digest,
        from: &RepositoryName,
    ) -> Result<Option<(Response<T::Stream>, Url)>> {
        let op = format!("mounting {digest} from {from} into {}", self.name);
        let scopes = vec![
            api::scope_for(Method::Post, &self.name),
            api::scope_for(Method::Get, from),
        ];
        let req = api::mount_blob(self.base(), &self.name, digest, from);
        let url = req.url.clone();
        let answer = async {
            let resp = self.client.send(&op, &scopes, req).await?;
            self.client.expect(resp, &op, &[201, 202]).await
        }
        .await;
        match answer {
            Ok(resp) => Ok(Some((resp, url))),
            Err(e) if mount_refused(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn finish_upload<S: BlobSource<T::NativeBody> + ?Sized>(
        &self,
        upload: &mut BlobUpload,
        source: &S,
        progress: &mut dyn FnMut(UploadProgress),
    ) -> Result<Digest> {
        let result = if upload.is_monolithic() {
            self.upload_monolithic(upload, source).await
        } else {
            self.upload_chunks(upload, source, progress).await
        };
        self.settle(upload, result, progress).await
    }

    /// The end of an upload: the final progress report when it succeeded; when it failed, the
    /// session cancelled (best effort), so the registry can drop what it holds.
    async fn settle(
        &self,
        upload: &mut BlobUpload,
        result: Result<Digest>,
        progress: &mut dyn FnMut(UploadProgress),
    ) -> Result<Digest> {
        if result.is_ok() {
            progress(upload.progress());
        } else {
            self.cancel_session(upload).await;
        }
        result
    }

    /// Cancels the upload's session, best effort: the registry may then drop what it holds. A
    /// clean-up, so that it goes out (with the token it may need) even after the caller aborted.
    async fn cancel_session(&self, upload: &mut BlobUpload) {
        if let Some(cancel) = upload.cancel_request() {
            let op = format!("cancelling the upload session in {}", self.name);
            let scopes = self.scopes(Method::Delete);
            let _ = transport::cleanup(self.client.send(&op, &scopes, cancel)).await;
        }
    }

    async fn upload_monolithic<S: BlobSource<T::NativeBody> + ?Sized>(
        &self,
        upload: &mut BlobUpload,
        source: &S,
    ) -> Result<Digest> {
        let op = format!("uploading a blob to {}", self.name);
        let total = source.size();
        // The digest goes in the PUT's URL, so the whole blob is hashed before it is sent.
        upload.hash_separately();
        let digest = self.digest_source(source, upload.new_hasher(), &op).await?;
        upload.set_digest(digest);
        let req = upload.monolithic_request(source.body(0, total))?;
        self.commit(upload, req, total, &op).await
    }

    /// A chunked upload: the chunks go out one after the other while a separate pass hashes the
    /// whole source beside them (neither waits for the other; the closing PUT waits for both).
    async fn upload_chunks<S: BlobSource<T::NativeBody> + ?Sized>(
        &self,
        upload: &mut BlobUpload,
        source: &S,
        progress: &mut dyn FnMut(UploadProgress),
    ) -> Result<Digest> {
        let op = format!("uploading a blob to {}", self.name);
        upload.hash_separately();
        let (digest, ()) = try_join(
            self.digest_source(source, upload.new_hasher(), &op),
            self.send_chunks(
                upload,
                &|start, end| source.body(start, end),
                progress,
                &op,
                true,
            ),
        )
        .await?;
        upload.set_digest(digest);
        let req = upload.commit_request()?;
        self.commit(upload, req, source.size(), &op).await
    }

    /// Sends every chunk, resuming from the session's status after a failure and, when
    /// `restartable` (the source still has byte 0), opening a new session when the registry
    /// lost this one.
    ///
    /// Not generic over the source (`body_of` gives a chunk's body): compiled once, whatever
    /// the sources a program uploads from.
    async fn send_chunks(
        &self,
        upload: &mut BlobUpload,
        body_of: &dyn Fn(u64, u64) -> Body<T::NativeBody>,
        progress: &mut dyn FnMut(UploadProgress),
        op: &str,
        restartable: bool,
    ) -> Result<()> {
        let (mut failures, mut restarts) = (0, 0);
        while let Some(range) = upload.next_chunk() {
            match self.send_chunk(upload, body_of, range, op).await? {
                ChunkOutcome::Acknowledged => {
                    failures = 0;
                    progress(upload.progress());
                }
                ChunkOutcome::Retry(error) => {
                    failures += 1;
                    if failures > upload.options().max_resumes_per_chunk {
                        return Err(error);
                    }
                    // Tell the caller at once: the back-off and the resume take a while.
                    upload.note_interruption();
                    progress(upload.progress());
                    let seed = self.client.transport().now_millis() ^ u64::from(restarts);
                    let wait = self.client.inner.options.retry.backoff_ms(failures, seed);
                    self.client.transport().sleep(wait).await;
                    match self.resume(upload, op).await {
                        Ok(()) => {}
                        // The session is gone. distribution cancels a session asked about with
                        // a stale Location, and a stale one is all a client has after a chunk
                        // the registry stored but whose answer was lost: start over.
                        Err(e) if e.is_not_found() => {
                            self.start_over(upload, op, restartable, &mut restarts, e)
                                .await?;
                            failures = 0;
                        }
                        // The session's answer does not let it resume (it holds bytes that
                        // were not sent, or does not say how many): a new one, when the
                        // source can be read again; this one is cancelled first.
                        Err(e) if e.code() == "PROTOCOL_ERROR" && restartable => {
                            self.cancel_session(upload).await;
                            self.start_over(upload, op, restartable, &mut restarts, e)
                                .await?;
                            failures = 0;
                        }
                        Err(e) => return Err(e),
                    }
                    progress(upload.progress());
                }
                // A session lost before it took a byte did not expire mid-way: a registry whose
                // replicas do not share upload state answers every new session so, and
                // starting over would only send the first chunk again and again.
                ChunkOutcome::SessionLost(error) if upload.progress().confirmed == 0 => {
                    return Err(error);
                }
                ChunkOutcome::SessionLost(error) => {
                    // Reported only once the new session is open: an upload that cannot start
                    // over fails without first telling its caller it resumes.
                    self.start_over(upload, op, restartable, &mut restarts, error)
                        .await?;
                    upload.note_interruption();
                    failures = 0;
                    progress(upload.progress());
                }
            }
        }
        Ok(())
    }

    /// Opens a new session and starts the upload over, after the registry lost the session
    /// (`lost`), when the source still has byte 0 (`restartable`) and the restarts allowed
    /// (`max_resumes_per_chunk`) are not used up.
    async fn start_over(
        &self,
        upload: &mut BlobUpload,
        op: &str,
        restartable: bool,
        restarts: &mut u32,
        lost: Error,
    ) -> Result<()> {
        if !restartable {
            return Err(Error::protocol(format!(
                "{op}: the registry lost the upload session after {} bytes, which cannot be \
                 read from the stream again: start the upload over (an upload from a file \
                 restarts by itself)",
                upload.progress().confirmed
            )));
        }
        if *restarts >= upload.options().max_resumes_per_chunk {
            return Err(lost);
        }
        *restarts += 1;
        upload.restart();
        self.open_session(upload).await
    }

    /// Sends the closing `PUT`. When it fails after the registry may have stored the blob (a
    /// lost answer, then a repeat the finished session refuses with 404), the blob is looked
    /// up: if the repository holds it with the right size the upload succeeded.
    async fn commit(
        &self,
        upload: &mut BlobUpload,
        req: Request<T::NativeBody>,
        size: u64,
        op: &str,
    ) -> Result<Digest> {
        let digest = req
            .url
            .query_param("digest")
            .and_then(|d| Digest::parse(&d).ok());
        let sent = self.client.send(op, &self.scopes(Method::Put), req).await;
        let error = match sent {
            Ok(resp) => match self.client.expect(resp, op, &[201, 204]).await {
                Ok(resp) => return upload.handle_commit(resp.status, &resp.headers),
                Err(e) => e,
            },
            Err(e) => e,
        };
        let maybe_stored = error.is_retryable() || error.is_not_found();
        if let (true, Some(digest)) = (maybe_stored, digest) {
            if self.blob_exists(&digest).await.ok().flatten() == Some(size) {
                return upload.handle_commit(201, &transport::Headers::new());
            }
        }
        Err(error)
    }

    /// Sends one chunk: the source's native body (a `Blob` slice in the browser), so the bytes
    /// never pass through wasm.
    async fn send_chunk(
        &self,
        upload: &mut BlobUpload,
        body_of: &dyn Fn(u64, u64) -> Body<T::NativeBody>,
        range: std::ops::Range<u64>,
        op: &str,
    ) -> Result<ChunkOutcome> {
        let req = upload.chunk_request(range.clone(), body_of(range.start, range.end))?;
        let url = req.url.clone();
        let resp = match self.client.send(op, &self.scopes(Method::Patch), req).await {
            Ok(resp) => resp,
            Err(e) if e.is_retryable() => return Ok(ChunkOutcome::Retry(e)),
            Err(e) => return Err(e),
        };
        if resp.status == 202 || resp.status == 201 {
            upload.handle_chunk(resp.status, &resp.headers, &url)?;
            return Ok(ChunkOutcome::Acknowledged);
        }
        // Keep the newest Location even from an error, so that cancelling reaches the session.
        let _ = upload.follow_location(&resp.headers, &url);
        let retryable = resp.status == 416 || resp.status == 429 || resp.status >= 500;
        let error = self.client.error_from(resp, op).await;
        if error.is_not_found() && error.has_code(&OciErrorCode::BlobUploadUnknown) {
            return Ok(ChunkOutcome::SessionLost(error));
        }
        if retryable {
            Ok(ChunkOutcome::Retry(error))
        } else {
            Err(error)
        }
    }

    /// The digest of the whole source: the one the source computes itself when it offers one
    /// ([`BlobSource::digest_whole`]: WebCrypto in a browser), else `hasher`'s over the source
    /// read slice by slice.
    async fn digest_source<S: BlobSource<T::NativeBody> + ?Sized>(
        &self,
        source: &S,
        mut hasher: Hasher,
        op: &str,
    ) -> Result<Digest> {
        let algorithm = hasher.algorithm();
        if let Some(offered) = source.digest_whole(&algorithm).await {
            let digest = offered.map_err(|e| Error::transport(op, e))?;
            if digest.algorithm() != algorithm {
                return Err(Error::protocol(format!(
                    "{op}: the source's own hashing (BlobSource::digest_whole) gave a {} digest \
                     where {} was asked for; it should answer None for an algorithm it does not \
                     compute",
                    digest.algorithm().as_str(),
                    algorithm.as_str()
                )));
            }
            return Ok(digest);
        }
        self.read_slices(source, 0..source.size(), op, |bytes| {
            hasher.update(bytes);
            Ok(())
        })
        .await?;
        Ok(hasher.finish())
    }

    /// Reads `range` from the source in slices and hands each to `consume`, in order. The next
    /// slice is read (by the browser, off this thread) while the current one is consumed, so
    /// reads never stall the hashing; at most two slices are in memory at a time.
    async fn read_slices<S: BlobSource<T::NativeBody> + ?Sized>(
        &self,
        source: &S,
        range: std::ops::Range<u64>,
        op: &str,
        mut consume: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let read = |start: u64| {
            let end = (start + HASH_SLICE).min(range.end);
            async move {
                let bytes = source
                    .read(start, end)
                    .await
                    .map_err(|e| Error::transport(op, e))?;
                if bytes.len() as u64 != end - start {
                    return Err(Error::protocol(format!(
                        "{op}: the source gave {} bytes for {start}..{end}; did the file change?",
                        bytes.len()
                    )));
                }
                Ok(bytes)
            }
        };
        if range.is_empty() {
            return Ok(());
        }
        let mut current = read(range.start).await?;
        let mut offset = range.start + current.len() as u64;
        while offset < range.end {
            let (next, consumed) = join(read(offset), async { consume(&current) }).await;
            consumed?;
            current = next?;
            offset += current.len() as u64;
        }
        consume(&current)
    }

    /// Asks the session how much it holds and rewinds the upload there. Chunked uploads hash
    /// in a pass of their own ([`BlobUpload::hash_separately`]), so nothing is hashed again.
    async fn resume(&self, upload: &mut BlobUpload, op: &str) -> Result<()> {
        let req = upload.status_request()?;
        let url = req.url.clone();
        let resp = self.client.send(op, &self.scopes(Method::Get), req).await?;
        let resp = self.client.expect(resp, op, &[204, 200]).await?;
        match upload.handle_status(resp.status, &resp.headers, &url)? {
            None => Ok(()),
            Some(_) => Err(Error::protocol(
                "internal: a chunked upload that hashes separately was asked to hash again",
            )),
        }
    }
}

/// Statuses after which the registry may or may not have acted, so a request that changes
/// state is not repeated blindly (see [`crate::retry::Failure::is_retryable`]).
fn is_ambiguous(status: u16) -> bool {
    matches!(status, 500 | 502 | 504)
}

fn filter_artifacts(
    manifests: Vec<Descriptor>,
    artifact_type: Option<&str>,
    already_filtered: bool,
) -> Vec<Descriptor> {
    match artifact_type {
        Some(t) if !already_filtered => manifests
            .into_iter()
            .filter(|d| d.artifact_type.as_ref().is_some_and(|a| a.as_str() == t))
            .collect(),
        _ => manifests,
    }
}

impl Manifest {
    /// The descriptor a referrers index lists for this manifest: its artifact type and
    /// annotations copied, as the spec asks.
    pub fn descriptor_for_referrers(&self) -> Descriptor {
        let mut d = self.descriptor();
        d.annotations = match &self.parsed {
            crate::manifest::ManifestKind::Image(m) => m.annotations.clone(),
            crate::manifest::ManifestKind::Index(i) => i.annotations.clone(),
            crate::manifest::ManifestKind::Other(_) => Default::default(),
        };
        d
    }
}

/// What a token server refused when it refused `credential`, and what to do about it.
fn refusal(credential: &Credential) -> (&'static str, &'static str) {
    match credential {
        Credential::Anonymous => (
            "anonymous access",
            "this registry (or this repository) needs you to sign in: give a username and \
             password or a token",
        ),
        Credential::Basic { .. } => ("the credentials", "check the username and password"),
        Credential::RefreshToken(_) => (
            "the refresh token",
            "the refresh token may have expired or been revoked: sign in again for a new one",
        ),
        Credential::AadToken { .. } => (
            "the Azure AD identity's token",
            "the identity may lack a role on this registry (AcrPull to read, AcrPush to push, \
             AcrDelete to delete), or its token is for another tenant or cloud",
        ),
        Credential::Bearer(_)
        | Credential::TokenProvider(_)
        | Credential::AadOrRegistryToken(_) => (
            "the token",
            "the token may have expired or be for another registry: get a new one",
        ),
    }
}

/// The scopes a `401`'s Bearer challenge names (its `scope` parameter).
fn challenge_scopes<S>(resp: &Response<S>) -> Vec<Scope> {
    parse_www_authenticate(resp.headers.get_all("www-authenticate"))
        .iter()
        .filter(|c| c.is_bearer())
        .flat_map(Challenge::scopes)
        .filter_map(|s| Scope::parse(&s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::NoNativeBody;

    #[test]
    fn a_hidden_link_continues_after_the_last_item_of_any_page_but_an_empty_one() {
        let base = Url::parse("http://127.0.0.1:5000").unwrap();
        let build = |n: Option<u32>, last: Option<&str>| -> Request<NoNativeBody> {
            api::catalog(&base, n, last)
        };
        let full = vec!["a".to_string(), "b/c".to_string()];
        let url = build(Some(2), None).url;
        let next = hidden_link_fallback(&url, &full, Some(String::as_str), build).unwrap();
        assert_eq!(next.query_param("last").as_deref(), Some("b/c"));
        assert_eq!(next.query_param("n").as_deref(), Some("2"));
        // A short page may be a capped one; without `n` the next asks without it.
        let next = hidden_link_fallback(&url, &full[..1], Some(String::as_str), build).unwrap();
        assert_eq!(next.query_param("last").as_deref(), Some("a"));
        let no_n = build(None, None).url;
        let next = hidden_link_fallback(&no_n, &full, Some(String::as_str), build).unwrap();
        assert_eq!(next.query_param("n"), None);
        // An empty page ends the listing; so does a listing without a `last` key (ACR's).
        assert_eq!(
            hidden_link_fallback::<String, _>(&url, &[], Some(String::as_str), build),
            None
        );
        assert_eq!(
            hidden_link_fallback::<String, _>(&url, &full, None, build),
            None
        );
    }

    #[test]
    fn a_416_at_the_end_of_what_was_had_is_the_end_unless_the_blob_is_longer() {
        assert!(range_at_end("op", 10, None).is_ok());
        assert!(range_at_end("op", 10, Some("bytes */10")).is_ok());
        let e = range_at_end("op", 10, Some("bytes */12")).unwrap_err();
        assert!(e.to_string().contains("a blob of 12 bytes"), "{e}");
    }

    #[test]
    fn a_page_after_last_keeps_what_is_new_and_a_repeated_start_nothing() {
        let base = Url::parse("http://127.0.0.1:5000").unwrap();
        let url = api::catalog::<NoNativeBody>(&base, Some(2), Some("apps/web")).url;
        let keep = |page: &[&str]| {
            let mut items: Vec<String> = page.iter().map(|s| s.to_string()).collect();
            keep_after_last(&url, &mut items, Some(String::as_str));
            items
        };
        // Distribution's catalog order puts "apps/web" before "apps-legacy": all of it is new.
        assert_eq!(keep(&["apps-legacy", "b"]), ["apps-legacy", "b"]);
        // A registry that counts `last` in.
        assert_eq!(keep(&["apps/web", "b"]), ["b"]);
        // From the start again, in any order: nothing of it is new.
        assert!(keep(&["c", "apps/web", "a"]).is_empty());
        let first = api::catalog::<NoNativeBody>(&base, Some(2), None).url;
        let mut page = vec!["a".to_string()];
        keep_after_last(&first, &mut page, Some(String::as_str));
        assert_eq!(page, ["a"]);
    }

    /// A transport for tests that never reach the network.
    struct Offline;

    impl Transport for Offline {
        type NativeBody = Vec<u8>;
        type Stream = transport::BufferedBody;

        async fn send(
            &self,
            _: Request<Vec<u8>>,
        ) -> std::result::Result<Response<Self::Stream>, TransportError> {
            unreachable!("these tests send nothing")
        }

        fn now_millis(&self) -> u64 {
            0
        }

        async fn sleep(&self, _: u64) {}
    }

    #[test]
    fn listings_that_link_on_for_ever_end() {
        let client = RegistryClient::new(
            Offline,
            Url::parse("https://reg.example").unwrap(),
            Credential::Anonymous,
        );
        // first → b → c → b → …: each page once.
        let next = |token: Option<&str>| match token {
            None => ("first", "b"),
            Some("b") => ("b", "c"),
            _ => ("c", "b"),
        };
        let fetched = Cell::new(0);
        let all = futures::executor::block_on(client.collect_pages(|request| {
            fetched.set(fetched.get() + 1);
            let (item, token) = next(request.continuation_token.as_deref());
            let looping = fetched.get() > 10;
            async move {
                if looping {
                    return Err(Error::protocol("the listing went round in circles"));
                }
                Ok(Page {
                    items: vec![item.to_string()],
                    continuation_token: Some(token.to_string()),
                })
            }
        }))
        .unwrap();
        assert_eq!(all, ["first", "b", "c"]);

        // Pages that come round again (a, b, a, b, ...) under ever new links: each once.
        let fetched = Cell::new(0);
        let all = futures::executor::block_on(client.collect_pages(|_| {
            fetched.set(fetched.get() + 1);
            let n = fetched.get();
            let item = if n % 2 == 1 { "a" } else { "b" };
            async move {
                if n > 10 {
                    return Err(Error::protocol("the listing went round for ever"));
                }
                Ok(Page {
                    items: vec![item.to_string()],
                    continuation_token: Some(format!("page-{n}")),
                })
            }
        }))
        .unwrap();
        assert_eq!(all, ["a", "b"]);

        // Ever new links, to the same page again or to empty pages: the listing ends.
        for again in [vec!["x".to_string(), "y".to_string()], Vec::new()] {
            let fetched = Cell::new(0);
            let all = futures::executor::block_on(client.collect_pages(|_| {
                fetched.set(fetched.get() + 1);
                let n = fetched.get();
                let items = if n == 1 {
                    vec!["x".to_string(), "y".to_string()]
                } else {
                    again.clone()
                };
                async move {
                    if n > MAX_EMPTY_PAGES_IN_A_ROW + 1 {
                        return Err(Error::protocol("the listing went on for ever"));
                    }
                    Ok(Page {
                        items,
                        continuation_token: Some(format!("page-{n}")),
                    })
                }
            }))
            .unwrap();
            assert_eq!(all, ["x", "y"]);
        }
    }
}
