//! The Azure Container Registry operations of the client, named after the Azure SDK's:
//! repository names, repository / manifest / tag properties, ordered listings and deletes.

use std::cell::RefCell;
use std::fmt;

use crate::acr::{
    self, ArtifactOrder, ChangeableAttributes, DeletedRepository, ManifestProperties,
    RepositoryProperties, TagProperties,
};
use crate::auth::Scope;
use crate::client::{ListKind, Page, PageRequest, RegistryClient, Repository};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::reference::{Tag, TagOrDigest};
use crate::transport::{Method, Request, Transport};

impl<T: Transport> RegistryClient<T> {
    /// One page of repository names: ACR's `/acr/v1/_catalog` on ACR, the plain `/v2/_catalog`
    /// elsewhere (found out on the first call, then remembered).
    pub async fn list_repository_names_page(&self, page: &PageRequest) -> Result<Page<String>> {
        let token_is_v2 = page
            .continuation_token
            .as_deref()
            .is_some_and(|t| t.starts_with("/v2/"));
        if token_is_v2 || self.inner_is_acr() == Some(false) {
            return self.list_repositories_page(page).await;
        }
        let base = self.base().clone();
        let result = self
            .list_page(
                "listing repositories",
                &[Scope::catalog()],
                page,
                |n, last| acr::list_repositories(&base, n, last),
                ListKind::acr(acr::parse_repositories),
            )
            .await;
        match result {
            // `!= Some(true)`: a concurrent first listing may already have found out.
            Err(e) if not_acr(&e) && self.inner_is_acr() != Some(true) => {
                self.set_is_acr(false);
                self.list_repositories_page(page).await
            }
            Ok(page) => {
                self.set_is_acr(true);
                Ok(page)
            }
            Err(e) => Err(e),
        }
    }

    /// Every repository name, following `Link` from page to page.
    pub async fn list_repository_names(&self) -> Result<Vec<String>> {
        self.collect_pages(|page| async move { self.list_repository_names_page(&page).await })
            .await
    }

    /// Whether the registry is an Azure Container Registry (serves `/acr/v1`), when known: from
    /// the first repository listing, or from any read of ACR's properties or manifest listing
    /// that succeeded.
    pub fn is_acr(&self) -> Option<bool> {
        self.inner_is_acr()
    }
}

/// Whether an answer on `/acr/v1` shows the registry does not serve ACR's API: a 404, or a body
/// that is not ACR's JSON (a dev server or proxy answering unknown paths with its own page).
fn not_acr(error: &Error) -> bool {
    error.is_not_found() || matches!(error, Error::Parse { .. })
}

impl<T: Transport> Repository<T> {
    /// A manifest of this repository by tag or digest (no I/O).
    pub fn artifact(&self, reference: TagOrDigest) -> Artifact<T> {
        Artifact {
            digest: RefCell::new(reference.digest().cloned()),
            repository: self.clone(),
            reference,
        }
    }

    async fn metadata_call(
        &self,
        op: &str,
        request: Request<T::NativeBody>,
        ok: &[u16],
    ) -> Result<Vec<u8>> {
        let scopes = [acr::metadata_scope(request.method, &self.name)];
        let resp = self.client.send(op, &scopes, request).await?;
        let mut resp = self.client.expect(resp, op, ok).await?;
        self.client.read_json_body(&mut resp, op).await
    }

    /// One page of an `/acr/v1` listing of this repository: the first asks `build(n)`, the next
    /// follow ACR's `Link`.
    async fn metadata_page<I>(
        &self,
        op: &str,
        page: &PageRequest,
        build: impl Fn(Option<u32>) -> Request<T::NativeBody>,
        parse: fn(&[u8]) -> Result<Vec<I>>,
    ) -> Result<Page<I>> {
        let scopes = [acr::metadata_scope(Method::Get, &self.name)];
        self.client
            .list_page(op, &scopes, page, |n, _| build(n), ListKind::acr(parse))
            .await
    }

    /// The repository's properties (ACR).
    pub async fn get_properties(&self) -> Result<RepositoryProperties> {
        let op = format!("reading the properties of {}", self.name);
        let body = self
            .metadata_call(&op, acr::get_repository(self.base(), &self.name), &[200])
            .await?;
        self.answered_as_acr(acr::parse_repository_properties(&body))
    }

    /// Changes the repository's locks (ACR); returns the new properties.
    pub async fn update_properties(
        &self,
        attributes: &ChangeableAttributes,
    ) -> Result<RepositoryProperties> {
        let op = format!("updating the properties of {}", self.name);
        let req = acr::update_repository(self.base(), &self.name, attributes);
        let body = self.metadata_call(&op, req, &[200]).await?;
        acr::parse_repository_properties(&body)
    }

    /// Deletes the repository with every manifest and tag (ACR).
    pub async fn delete(&self) -> Result<DeletedRepository> {
        let op = format!("deleting repository {}", self.name);
        let req = acr::delete_repository(self.base(), &self.name);
        let body = self.metadata_call(&op, req, &[202, 200]).await?;
        acr::parse_deleted_repository(&body)
    }

    /// One page of manifest properties, in the order asked (ACR).
    pub async fn list_manifest_properties_page(
        &self,
        order: ArtifactOrder,
        page: &PageRequest,
    ) -> Result<Page<ManifestProperties>> {
        let op = format!("listing the manifests of {}", self.name);
        let build = |n| acr::list_manifests(self.base(), &self.name, n, order);
        let listed = self
            .metadata_page(&op, page, build, acr::parse_manifest_list)
            .await;
        self.answered_as_acr(listed)
    }

    /// Passes on the outcome of a read on `/acr/v1`; one in ACR's format shows the registry is
    /// an ACR, which the client then knows ([`RegistryClient::is_acr`]).
    fn answered_as_acr<V>(&self, parsed: Result<V>) -> Result<V> {
        if parsed.is_ok() {
            self.client.set_is_acr(true);
        }
        parsed
    }

    /// Every manifest's properties, in the order asked (ACR).
    pub async fn list_manifest_properties(
        &self,
        order: ArtifactOrder,
    ) -> Result<Vec<ManifestProperties>> {
        self.client
            .collect_pages(
                |page| async move { self.list_manifest_properties_page(order, &page).await },
            )
            .await
    }

    /// One page of every tag of the repository with its own properties (its digest, and when
    /// the tag itself was created and last moved), in the order asked (ACR).
    pub async fn list_tag_properties_page(
        &self,
        order: ArtifactOrder,
        page: &PageRequest,
    ) -> Result<Page<TagProperties>> {
        let op = format!("listing the tags of {} with their properties", self.name);
        let build = |n| acr::list_tags(self.base(), &self.name, n, order, None);
        let listed = self
            .metadata_page(&op, page, build, acr::parse_tag_list)
            .await;
        self.answered_as_acr(listed)
    }

    /// Every tag of the repository with its own properties, in the order asked (ACR). A tag's
    /// dates are its own: a tag moved onto an older manifest is recent, the manifest is not.
    pub async fn list_tag_properties(&self, order: ArtifactOrder) -> Result<Vec<TagProperties>> {
        self.client
            .collect_pages(|page| async move { self.list_tag_properties_page(order, &page).await })
            .await
    }
}

/// One artifact (a manifest) of a repository, by tag or digest. A tag is resolved to its digest
/// once, on first need.
pub struct Artifact<T> {
    repository: Repository<T>,
    reference: TagOrDigest,
    digest: RefCell<Option<Digest>>,
}

impl<T> fmt::Debug for Artifact<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Artifact")
            .field("repository", &self.repository.name)
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Artifact<T> {
    /// The repository.
    pub fn repository(&self) -> &Repository<T> {
        &self.repository
    }

    /// The tag or digest this artifact was asked by.
    pub fn reference(&self) -> &TagOrDigest {
        &self.reference
    }

    /// `host/repository:tag` or `host/repository@digest`.
    pub fn fully_qualified_reference(&self) -> String {
        let sep = if self.reference.digest().is_some() {
            '@'
        } else {
            ':'
        };
        format!(
            "{}/{}{sep}{}",
            self.repository.base().authority(),
            self.repository.name(),
            self.reference
        )
    }

    /// The manifest digest (a tag is resolved once: through ACR's tag properties, or a `HEAD`
    /// on other registries).
    pub async fn digest(&self) -> Result<Digest> {
        if let Some(d) = self.digest.borrow().clone() {
            return Ok(d);
        }
        let TagOrDigest::Tag(tag) = &self.reference else {
            unreachable!("an artifact asked by digest starts with it");
        };
        let client = self.repository.client();
        let digest = if client.is_acr() == Some(false) {
            self.head_digest().await?
        } else {
            match self.get_tag_properties(tag).await {
                Ok(props) => Digest::parse(&props.digest)?,
                Err(e) if not_acr(&e) && client.is_acr() != Some(true) => {
                    self.head_digest().await?
                }
                Err(e) => return Err(e),
            }
        };
        *self.digest.borrow_mut() = Some(digest.clone());
        Ok(digest)
    }

    async fn head_digest(&self) -> Result<Digest> {
        self.repository
            .head_manifest(&self.reference)
            .await?
            .map(|info| info.digest)
            .ok_or_else(|| Error::Registry {
                operation: format!("resolving {}:{}", self.repository.name(), self.reference),
                status: 404,
                errors: vec![],
                body_excerpt: Some("no manifest has this tag".into()),
                retry_after: None,
            })
    }

    /// The manifest's properties (ACR).
    pub async fn get_manifest_properties(&self) -> Result<ManifestProperties> {
        let digest = self.digest().await?;
        let op = format!(
            "reading the properties of {}@{digest}",
            self.repository.name()
        );
        let req = acr::get_manifest(self.repository.base(), self.repository.name(), &digest);
        let body = self.repository.metadata_call(&op, req, &[200]).await?;
        self.repository
            .answered_as_acr(acr::parse_manifest_properties(&body))
    }

    /// Changes the manifest's locks (ACR); returns the new properties.
    pub async fn update_manifest_properties(
        &self,
        attributes: &ChangeableAttributes,
    ) -> Result<ManifestProperties> {
        let digest = self.digest().await?;
        let op = format!(
            "updating the properties of {}@{digest}",
            self.repository.name()
        );
        let req = acr::update_manifest(
            self.repository.base(),
            self.repository.name(),
            &digest,
            attributes,
        );
        let body = self.repository.metadata_call(&op, req, &[200]).await?;
        acr::parse_manifest_properties(&body)
    }

    /// One page of the tags of this manifest, in the order asked (ACR).
    pub async fn list_tag_properties_page(
        &self,
        order: ArtifactOrder,
        page: &PageRequest,
    ) -> Result<Page<TagProperties>> {
        let digest = self.digest().await?;
        let repo = &self.repository;
        let op = format!("listing the tags of {}@{digest}", repo.name());
        let build = |n| acr::list_tags(repo.base(), repo.name(), n, order, Some(&digest));
        let mut page = repo
            .metadata_page(&op, page, build, acr::parse_tag_list)
            .await?;
        // The next pages come from ACR's `Link`, whose recordings show no `digest=`: should it
        // drop the filter, the other manifests' tags are left out here.
        page.items.retain(|t| t.digest == digest.as_str());
        Ok(page)
    }

    /// Every tag of this manifest, in the order asked (ACR).
    pub async fn list_tag_properties(&self, order: ArtifactOrder) -> Result<Vec<TagProperties>> {
        self.repository
            .client()
            .collect_pages(|page| async move { self.list_tag_properties_page(order, &page).await })
            .await
    }

    /// A tag's properties (ACR).
    pub async fn get_tag_properties(&self, tag: &Tag) -> Result<TagProperties> {
        let op = format!(
            "reading the properties of tag {}:{tag}",
            self.repository.name()
        );
        let req = acr::get_tag(self.repository.base(), self.repository.name(), tag);
        let body = self.repository.metadata_call(&op, req, &[200]).await?;
        self.repository
            .answered_as_acr(acr::parse_tag_properties(&body))
    }

    /// Changes a tag's locks (ACR); returns the new properties.
    pub async fn update_tag_properties(
        &self,
        tag: &Tag,
        attributes: &ChangeableAttributes,
    ) -> Result<TagProperties> {
        let op = format!(
            "updating the properties of tag {}:{tag}",
            self.repository.name()
        );
        let req = acr::update_tag(
            self.repository.base(),
            self.repository.name(),
            tag,
            attributes,
        );
        let body = self.repository.metadata_call(&op, req, &[200]).await?;
        acr::parse_tag_properties(&body)
    }

    /// Deletes a tag, leaving the manifest (ACR).
    pub async fn delete_tag(&self, tag: &Tag) -> Result<()> {
        let op = format!("deleting tag {}:{tag}", self.repository.name());
        let req = acr::delete_tag(self.repository.base(), self.repository.name(), tag);
        self.repository
            .metadata_call(&op, req, &[202, 200])
            .await
            .map(drop)
    }

    /// Deletes the artifact: its manifest, by digest, with every tag on it.
    pub async fn delete(&self) -> Result<()> {
        let digest = self.digest().await?;
        self.repository
            .delete_manifest(&TagOrDigest::Digest(digest))
            .await
    }
}

impl<T: Transport> RegistryClient<T> {
    fn inner_is_acr(&self) -> Option<bool> {
        self.acr_flag().get()
    }

    fn set_is_acr(&self, value: bool) {
        self.acr_flag().set(Some(value));
    }
}
