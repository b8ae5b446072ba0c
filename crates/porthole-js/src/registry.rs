//! `ContainerRegistryClient`, `ContainerRepository` and `RegistryArtifact`: repository names,
//! tags, properties and deletes, named as in `@azure/container-registry`.

use std::future::Future;
use std::rc::Rc;

use js_sys::{Object, Promise};
use porthole_core::{Artifact, RegistryClient, Repository, RepositoryName, Tag, TagOrDigest, Url};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use crate::credential::{credential, is_credential};
use crate::error::IntoJs;
use crate::glue::{from_js, get, string_arg, to_js, type_error};
use crate::paging::{paged, Listing};
use crate::transport::{with_signal, JsTransport};
use crate::types::{
    ArtifactManifestProperties, ArtifactTagProperties, ContainerRegistryClientOptions,
    ContainerRepositoryProperties, ListOrderedOptions, UpdatePropertiesOptions,
};

/// The registry URL from what the caller gave (`https://` is assumed when no scheme is given).
fn endpoint_url(endpoint: &str) -> Result<Url, JsValue> {
    let full = if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("https://{endpoint}")
    };
    let url = Url::parse(&full)
        .map_err(|e| type_error(&format!("invalid registry endpoint {endpoint:?}: {e}")))?;
    // Every request goes to /v2/ (and /acr/, /oauth2/) at the host's root: a path here would be
    // dropped without a word, and the requests would reach whatever the root serves.
    if !matches!(url.path(), "" | "/") || url.query().is_some() {
        return Err(type_error(&format!(
            "invalid registry endpoint {endpoint:?}: give the registry's origin only (scheme, \
             host and port, such as https://myregistry.azurecr.io); the registry API is at the \
             root of its host, so a proxy in front of it must serve /v2/ (and /acr/, /oauth2/) \
             there too"
        )));
    }
    Ok(url)
}

/// A client from the constructor's arguments: `(endpoint, credential?, options?)` or
/// `(endpoint, options?)` for anonymous access, as in the Azure SDK.
pub(crate) fn make_client(
    endpoint: &str,
    credential_or_options: &JsValue,
    options: &JsValue,
) -> Result<RegistryClient<JsTransport>, JsValue> {
    let base = endpoint_url(endpoint)?;
    let (credential_value, options_value) = if is_credential(credential_or_options) {
        (credential_or_options.clone(), options.clone())
    } else if options.is_undefined() {
        (JsValue::UNDEFINED, credential_or_options.clone())
    } else {
        (credential_or_options.clone(), options.clone())
    };
    let options: ContainerRegistryClientOptions = from_js(&options_value, "the client options")?;
    let credential = credential(&credential_value, &base, &options)?;
    Ok(RegistryClient::new(JsTransport, base, credential))
}

/// The `abortSignal` of an options bag.
pub(crate) fn signal_of(options: &JsValue) -> Result<Option<AbortSignal>, JsValue> {
    let signal = get(options, "abortSignal");
    if signal.is_undefined() || signal.is_null() {
        return Ok(None);
    }
    crate::glue::native_abort_signal(&signal)
        .dyn_into::<AbortSignal>()
        .map(Some)
        .map_err(|_| {
            type_error(
                "abortSignal must be an AbortSignal (or an AbortSignalLike: `aborted` and \
                 `addEventListener`)",
            )
        })
}

/// Runs a call: its options bag's `abortSignal` applies to every request it sends.
pub(crate) fn spawn<F>(options: &JsValue, future: F) -> Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    spawn_with_signal(options, |_| future)
}

/// [`spawn`] for a call that needs the signal itself too (to stop a stream it reads, or for
/// requests sent after it returned): `call` gets it.
pub(crate) fn spawn_with_signal<F>(
    options: &JsValue,
    call: impl FnOnce(Option<AbortSignal>) -> F,
) -> Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    match signal_of(options) {
        Ok(signal) => {
            wasm_bindgen_futures::future_to_promise(with_signal(signal.clone(), call(signal)))
        }
        Err(error) => Promise::reject(&error),
    }
}

/// An options bag as a Rust value (`undefined` → defaults).
pub(crate) fn opts<T: serde::de::DeserializeOwned + Default>(
    options: &Option<Object>,
) -> Result<T, JsValue> {
    from_js(&opt_value(options), "the options")
}

/// The options bag as a `JsValue` (`undefined` when absent).
pub(crate) fn opt_value(options: &Option<Object>) -> JsValue {
    options.clone().map_or(JsValue::UNDEFINED, Into::into)
}

/// Parses a repository name; the error is a `RestError` with code `INVALID_INPUT`.
pub(crate) fn repository_name(name: &JsValue) -> Result<RepositoryName, JsValue> {
    RepositoryName::parse(&string_arg(name, "repositoryName")?).js()
}

/// A tag-or-digest argument (named `name` in its error); a malformed one is a `RestError`
/// with code `INVALID_INPUT`.
pub(crate) fn reference(value: &JsValue, name: &str) -> Result<TagOrDigest, JsValue> {
    TagOrDigest::parse(&string_arg(value, name)?).js()
}

/// A tag argument.
fn tag_arg(value: &JsValue) -> Result<Tag, JsValue> {
    Tag::parse(&string_arg(value, "tag")?).js()
}

/// The client for a registry's repositories (`@azure/container-registry`'s
/// `ContainerRegistryClient`), for ACR and any OCI registry.
///
/// ```js
/// const client = new ContainerRegistryClient("https://myreg.azurecr.io", new DefaultAzureCredential());
/// for await (const name of client.listRepositoryNames()) console.log(name);
/// ```
#[wasm_bindgen]
#[derive(Debug)]
pub struct ContainerRegistryClient {
    client: RegistryClient<JsTransport>,
    endpoint: String,
}

#[wasm_bindgen]
impl ContainerRegistryClient {
    /// A client for the registry at `endpoint` (`https://myreg.azurecr.io`). `credential` is
    /// `{ username, password }`, `{ token }`, or anything with `getToken` (an `@azure/identity`
    /// credential); leave it out (or pass the options second) for anonymous access.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "string")] endpoint: JsValue,
        #[wasm_bindgen(
            unchecked_optional_param_type = "RegistryCredential | ContainerRegistryClientOptions"
        )]
        credential: Option<Object>,
        #[wasm_bindgen(unchecked_optional_param_type = "ContainerRegistryClientOptions")]
        options: Option<Object>,
    ) -> Result<Self, JsValue> {
        let endpoint = string_arg(&endpoint, "endpoint")?;
        let client = make_client(&endpoint, &opt_value(&credential), &opt_value(&options))?;
        Ok(Self { client, endpoint })
    }

    /// The registry's URL, as given.
    #[wasm_bindgen(getter)]
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Every repository name: ACR's catalog on ACR, `/v2/_catalog` elsewhere.
    ///
    /// ```js
    /// for await (const page of client.listRepositoryNames().byPage({ maxPageSize: 50 })) {
    ///   console.log(page.length, page.continuationToken);
    /// }
    /// ```
    #[wasm_bindgen(
        js_name = listRepositoryNames,
        unchecked_return_type = "PagedAsyncIterableIterator<string, RepositoryPageResponse>"
    )]
    pub fn list_repository_names(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListRepositoriesOptions")] options: Option<
            Object,
        >,
    ) -> Result<JsValue, JsValue> {
        let signal = signal_of(&opt_value(&options))?;
        Ok(paged(Listing::RepositoryNames(self.client.clone()), signal))
    }

    /// The repository `name` (no request is made).
    #[wasm_bindgen(js_name = getRepository)]
    pub fn get_repository(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Result<ContainerRepository, JsValue> {
        Ok(ContainerRepository {
            repository: self.client.repository(repository_name(&name)?),
            endpoint: self.endpoint.clone(),
        })
    }

    /// The artifact `tagOrDigest` of repository `repositoryName` (no request is made).
    #[wasm_bindgen(js_name = getArtifact)]
    pub fn get_artifact(
        &self,
        #[wasm_bindgen(js_name = repositoryName, unchecked_param_type = "string")]
        repository_name: JsValue,
        #[wasm_bindgen(js_name = tagOrDigest, unchecked_param_type = "string")]
        tag_or_digest: JsValue,
    ) -> Result<RegistryArtifact, JsValue> {
        self.get_repository(repository_name)?
            .get_artifact(tag_or_digest)
    }

    /// Deletes a repository with all its manifests and tags (ACR).
    #[wasm_bindgen(js_name = deleteRepository, unchecked_return_type = "Promise<void>")]
    pub fn delete_repository(
        &self,
        #[wasm_bindgen(js_name = repositoryName, unchecked_param_type = "string")]
        repository_name: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "DeleteRepositoryOptions")] options: Option<
            Object,
        >,
    ) -> Result<Promise, JsValue> {
        Ok(self.get_repository(repository_name)?.delete(options))
    }
}

/// One repository (`@azure/container-registry`'s `ContainerRepository`), plus `listTagNames`
/// for any OCI registry.
#[wasm_bindgen]
#[derive(Debug)]
pub struct ContainerRepository {
    repository: Repository<JsTransport>,
    endpoint: String,
}

#[wasm_bindgen]
impl ContainerRepository {
    /// The repository name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.repository.name().as_str().to_string()
    }

    /// The registry's URL.
    #[wasm_bindgen(getter, js_name = registryEndpoint)]
    pub fn registry_endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The artifact `tagOrDigest` of this repository (no request is made).
    #[wasm_bindgen(js_name = getArtifact)]
    pub fn get_artifact(
        &self,
        #[wasm_bindgen(js_name = tagOrDigest, unchecked_param_type = "string")]
        tag_or_digest: JsValue,
    ) -> Result<RegistryArtifact, JsValue> {
        let reference = reference(&tag_or_digest, "tagOrDigest")?;
        Ok(RegistryArtifact {
            artifact: Rc::new(self.repository.artifact(reference)),
            endpoint: self.endpoint.clone(),
        })
    }

    /// The repository's properties (ACR).
    #[wasm_bindgen(
        js_name = getProperties,
        unchecked_return_type = "Promise<ContainerRepositoryProperties>"
    )]
    pub fn get_properties(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "GetRepositoryPropertiesOptions")]
        options: Option<Object>,
    ) -> Promise {
        let repository = self.repository.clone();
        spawn(&opt_value(&options), async move {
            let properties = repository.get_properties().await.js()?;
            Ok(to_js(&ContainerRepositoryProperties::from(properties)))
        })
    }

    /// Changes the repository's locks (`canDelete`, `canWrite`, `canList`, `canRead`; ACR).
    ///
    /// ```js
    /// await repository.updateProperties({ canDelete: false });
    /// ```
    #[wasm_bindgen(
        js_name = updateProperties,
        unchecked_return_type = "Promise<ContainerRepositoryProperties>"
    )]
    pub fn update_properties(
        &self,
        #[wasm_bindgen(unchecked_param_type = "UpdateRepositoryPropertiesOptions")] options: Object,
    ) -> Promise {
        let repository = self.repository.clone();
        let options = Some(options);
        let parsed = opts::<UpdatePropertiesOptions>(&options);
        spawn(&opt_value(&options), async move {
            let attributes = parsed?.attributes();
            let properties = repository.update_properties(&attributes).await.js()?;
            Ok(to_js(&ContainerRepositoryProperties::from(properties)))
        })
    }

    /// Every manifest's properties (ACR), in `order` if given.
    #[wasm_bindgen(
        js_name = listManifestProperties,
        unchecked_return_type = "PagedAsyncIterableIterator<ArtifactManifestProperties, ManifestPageResponse>"
    )]
    pub fn list_manifest_properties(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListManifestPropertiesOptions")]
        options: Option<Object>,
    ) -> Result<JsValue, JsValue> {
        let parsed: ListOrderedOptions = opts(&options)?;
        let signal = signal_of(&opt_value(&options))?;
        Ok(paged(
            Listing::Manifests(self.repository.clone(), parsed.order()?),
            signal,
        ))
    }

    /// Every tag name (`/v2/<name>/tags/list`, any OCI registry).
    #[wasm_bindgen(
        js_name = listTagNames,
        unchecked_return_type = "PagedAsyncIterableIterator<string, TagNamePageResponse>"
    )]
    pub fn list_tag_names(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListTagNamesOptions")] options: Option<
            Object,
        >,
    ) -> Result<JsValue, JsValue> {
        let signal = signal_of(&opt_value(&options))?;
        Ok(paged(Listing::TagNames(self.repository.clone()), signal))
    }

    /// Deletes the repository with all its manifests and tags (ACR).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "DeleteRepositoryOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let repository = self.repository.clone();
        spawn(&opt_value(&options), async move {
            repository.delete().await.js()?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// One artifact, by tag or digest (`@azure/container-registry`'s `RegistryArtifact`). A tag is
/// resolved to its digest once, on first need.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RegistryArtifact {
    artifact: Rc<Artifact<JsTransport>>,
    endpoint: String,
}

#[wasm_bindgen]
impl RegistryArtifact {
    /// The registry's URL.
    #[wasm_bindgen(getter, js_name = registryEndpoint)]
    pub fn registry_endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The repository name.
    #[wasm_bindgen(getter, js_name = repositoryName)]
    pub fn repository_name(&self) -> String {
        self.artifact.repository().name().as_str().to_string()
    }

    /// `host/repository:tag` or `host/repository@digest`.
    #[wasm_bindgen(getter, js_name = fullyQualifiedReference)]
    pub fn fully_qualified_reference(&self) -> String {
        self.artifact.fully_qualified_reference()
    }

    fn registry(&self) -> String {
        self.artifact
            .repository()
            .client()
            .base()
            .authority()
            .to_string()
    }

    /// The manifest's properties (ACR).
    #[wasm_bindgen(
        js_name = getManifestProperties,
        unchecked_return_type = "Promise<ArtifactManifestProperties>"
    )]
    pub fn get_manifest_properties(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "GetManifestPropertiesOptions")]
        options: Option<Object>,
    ) -> Promise {
        let (artifact, registry) = (Rc::clone(&self.artifact), self.registry());
        spawn(&opt_value(&options), async move {
            let properties = artifact.get_manifest_properties().await.js()?;
            let name = artifact.repository().name().as_str();
            Ok(to_js(&ArtifactManifestProperties::new(
                &registry, name, properties,
            )))
        })
    }

    /// Changes the manifest's locks (ACR).
    #[wasm_bindgen(
        js_name = updateManifestProperties,
        unchecked_return_type = "Promise<ArtifactManifestProperties>"
    )]
    pub fn update_manifest_properties(
        &self,
        #[wasm_bindgen(unchecked_param_type = "UpdateManifestPropertiesOptions")] options: Object,
    ) -> Promise {
        let (artifact, registry) = (Rc::clone(&self.artifact), self.registry());
        let options = Some(options);
        let parsed = opts::<UpdatePropertiesOptions>(&options);
        spawn(&opt_value(&options), async move {
            let attributes = parsed?.attributes();
            let properties = artifact
                .update_manifest_properties(&attributes)
                .await
                .js()?;
            let name = artifact.repository().name().as_str();
            Ok(to_js(&ArtifactManifestProperties::new(
                &registry, name, properties,
            )))
        })
    }

    /// The properties of every tag on this manifest (ACR), in `order` if given.
    #[wasm_bindgen(
        js_name = listTagProperties,
        unchecked_return_type = "PagedAsyncIterableIterator<ArtifactTagProperties, TagPageResponse>"
    )]
    pub fn list_tag_properties(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListTagPropertiesOptions")] options: Option<
            Object,
        >,
    ) -> Result<JsValue, JsValue> {
        let parsed: ListOrderedOptions = opts(&options)?;
        let signal = signal_of(&opt_value(&options))?;
        Ok(paged(
            Listing::Tags(Rc::clone(&self.artifact), parsed.order()?),
            signal,
        ))
    }

    /// A tag's properties (ACR).
    #[wasm_bindgen(
        js_name = getTagProperties,
        unchecked_return_type = "Promise<ArtifactTagProperties>"
    )]
    pub fn get_tag_properties(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] tag: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "GetTagPropertiesOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let (artifact, registry) = (Rc::clone(&self.artifact), self.registry());
        let tag = tag_arg(&tag);
        spawn(&opt_value(&options), async move {
            let properties = artifact.get_tag_properties(&tag?).await.js()?;
            let name = artifact.repository().name().as_str();
            Ok(to_js(&ArtifactTagProperties::new(
                &registry, name, properties,
            )))
        })
    }

    /// Changes a tag's locks (ACR).
    ///
    /// ```js
    /// await artifact.updateTagProperties("v1", { canWrite: false });
    /// ```
    #[wasm_bindgen(
        js_name = updateTagProperties,
        unchecked_return_type = "Promise<ArtifactTagProperties>"
    )]
    pub fn update_tag_properties(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] tag: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UpdateTagPropertiesOptions")] options: Object,
    ) -> Promise {
        let (artifact, registry) = (Rc::clone(&self.artifact), self.registry());
        let tag = tag_arg(&tag);
        let options = Some(options);
        let parsed = opts::<UpdatePropertiesOptions>(&options);
        spawn(&opt_value(&options), async move {
            let attributes = parsed?.attributes();
            let properties = artifact
                .update_tag_properties(&tag?, &attributes)
                .await
                .js()?;
            let name = artifact.repository().name().as_str();
            Ok(to_js(&ArtifactTagProperties::new(
                &registry, name, properties,
            )))
        })
    }

    /// Deletes a tag, leaving the manifest (ACR).
    #[wasm_bindgen(js_name = deleteTag, unchecked_return_type = "Promise<void>")]
    pub fn delete_tag(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] tag: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "DeleteTagOptions")] options: Option<Object>,
    ) -> Promise {
        let artifact = Rc::clone(&self.artifact);
        let tag = tag_arg(&tag);
        spawn(&opt_value(&options), async move {
            artifact.delete_tag(&tag?).await.js()?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Deletes the artifact: its manifest, with every tag on it.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "DeleteArtifactOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let artifact = Rc::clone(&self.artifact);
        spawn(&opt_value(&options), async move {
            artifact.delete().await.js()?;
            Ok(JsValue::UNDEFINED)
        })
    }
}
