//! Listings as the Azure SDK's `PagedAsyncIterableIterator`: items with `for await`, pages with
//! `byPage({ continuationToken, maxPageSize })`.
//!
//! wasm-bindgen cannot export `Symbol.asyncIterator` (wasm-bindgen#4142), so a [`Pager`] fetches
//! one page per call and `pagedIterator` in `js/helpers.js` wraps it in the Azure shape.

use std::rc::Rc;

use js_sys::Promise;
use porthole_core::acr::ArtifactOrder;
use porthole_core::{Artifact, Digest, PageRequest, RegistryClient, Repository};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use crate::error::IntoJs;
use crate::glue::{paged_iterator, range_error, string_arg, to_js};
use crate::transport::{with_signal, JsTransport};
use crate::types::{ArtifactManifestProperties, ArtifactTagProperties, OciDescriptor};

#[wasm_bindgen(typescript_custom_section)]
const PAGING: &str = r#"
/** Where `byPage` starts, and how many items a page should hold (the registry may send fewer). */
export interface PageSettings { continuationToken?: string; maxPageSize?: number }
/** Items with `for await`, or pages with `byPage()` (each page is an array with the
 *  `continuationToken` of the next one, `undefined` on the last). */
export interface PagedAsyncIterableIterator<TElement, TPage = TElement[], TPageSettings = PageSettings> {
  next(): Promise<IteratorResult<TElement>>;
  [Symbol.asyncIterator](): PagedAsyncIterableIterator<TElement, TPage, TPageSettings>;
  byPage(settings?: TPageSettings): AsyncIterableIterator<TPage>;
}
/** A page of repository names. */
export type RepositoryPageResponse = string[] & { continuationToken?: string };
/** A page of tag names. */
export type TagNamePageResponse = string[] & { continuationToken?: string };
/** A page of manifest properties. */
export type ManifestPageResponse = ArtifactManifestProperties[] & { continuationToken?: string };
/** A page of tag properties. */
export type TagPageResponse = ArtifactTagProperties[] & { continuationToken?: string };
/** A page of referrers. */
export type ReferrerPageResponse = OciDescriptor[] & { continuationToken?: string };
"#;

/// What a [`Pager`] lists.
#[derive(Debug)]
pub(crate) enum Listing {
    /// Repository names (ACR's catalog, else `/v2/_catalog`).
    RepositoryNames(RegistryClient<JsTransport>),
    /// Tag names (`/v2/<name>/tags/list`).
    TagNames(Repository<JsTransport>),
    /// Manifest properties (ACR).
    Manifests(Repository<JsTransport>, ArtifactOrder),
    /// Tag properties of one artifact (ACR).
    Tags(Rc<Artifact<JsTransport>>, ArtifactOrder),
    /// Referrers of a manifest (one page).
    Referrers(Repository<JsTransport>, Digest, Option<String>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageOut<T> {
    items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_token: Option<String>,
}

fn page_out<T: Serialize>(items: Vec<T>, continuation_token: Option<String>) -> JsValue {
    to_js(&PageOut {
        items,
        continuation_token,
    })
}

impl Listing {
    async fn page(&self, request: PageRequest) -> Result<JsValue, JsValue> {
        Ok(match self {
            Self::RepositoryNames(client) => {
                let page = client.list_repository_names_page(&request).await.js()?;
                page_out(page.items, page.continuation_token)
            }
            Self::TagNames(repository) => {
                let page = repository.list_tags_page(&request).await.js()?;
                page_out(page.items, page.continuation_token)
            }
            Self::Manifests(repository, order) => {
                let page = repository
                    .list_manifest_properties_page(*order, &request)
                    .await
                    .js()?;
                let registry = repository.client().base().authority().to_string();
                let name = repository.name().as_str();
                let items = page
                    .items
                    .into_iter()
                    .map(|p| ArtifactManifestProperties::new(&registry, name, p))
                    .collect::<Vec<_>>();
                page_out(items, page.continuation_token)
            }
            Self::Tags(artifact, order) => {
                let page = artifact
                    .list_tag_properties_page(*order, &request)
                    .await
                    .js()?;
                let repository = artifact.repository();
                let registry = repository.client().base().authority().to_string();
                let name = repository.name().as_str();
                let items = page
                    .items
                    .into_iter()
                    .map(|p| ArtifactTagProperties::new(&registry, name, p))
                    .collect::<Vec<_>>();
                page_out(items, page.continuation_token)
            }
            Self::Referrers(repository, subject, artifact_type) => {
                let found = repository
                    .referrers(subject, artifact_type.as_deref())
                    .await
                    .js()?;
                let items = found
                    .into_iter()
                    .map(OciDescriptor::from)
                    .collect::<Vec<_>>();
                page_out(items, None)
            }
        })
    }
}

/// Fetches the pages of one listing (internal: `pagedIterator` drives it).
#[wasm_bindgen(skip_typescript)]
#[derive(Debug)]
pub struct Pager {
    listing: Rc<Listing>,
    signal: Option<AbortSignal>,
}

#[wasm_bindgen]
impl Pager {
    /// One page: `{ items, continuationToken }`.
    #[wasm_bindgen(js_name = fetchPage)]
    pub fn fetch_page(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | undefined")] continuation_token: JsValue,
        max_page_size: Option<f64>,
    ) -> Promise {
        // A token that is not a string (a number from the caller's settings) is refused with
        // a TypeError: wasm-bindgen's own string conversion would trap instead.
        // An empty token starts from the beginning, as core-paging treats a falsy one.
        let continuation_token =
            if continuation_token.is_undefined() || continuation_token.is_null() {
                None
            } else {
                match string_arg(&continuation_token, "continuationToken") {
                    Ok(token) => Some(token).filter(|t| !t.is_empty()),
                    Err(error) => return Promise::reject(&error),
                }
            };
        // A size the listing cannot use is refused, not replaced by the default in silence.
        if let Some(n) = max_page_size.filter(|n| !(n.is_finite() && *n >= 1.0 && n.fract() == 0.0))
        {
            return Promise::reject(&range_error(&format!(
                "maxPageSize must be a whole number, 1 or more, not {n}"
            )));
        }
        let listing = Rc::clone(&self.listing);
        let request = PageRequest {
            page_size: max_page_size.map(|n| n.min(f64::from(u32::MAX)) as u32),
            continuation_token,
        };
        wasm_bindgen_futures::future_to_promise(with_signal(self.signal.clone(), async move {
            listing.page(request).await
        }))
    }
}

/// The Azure paged iterator over `listing`; every page it fetches obeys `signal`.
pub(crate) fn paged(listing: Listing, signal: Option<AbortSignal>) -> JsValue {
    paged_iterator(
        Pager {
            listing: Rc::new(listing),
            signal,
        }
        .into(),
    )
}
