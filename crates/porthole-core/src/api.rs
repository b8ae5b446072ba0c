//! Request builders and response parsers for each endpoint of the OCI Distribution API. Pure:
//! they build [`Request`]s and read bodies; the client sends them.

use serde::Deserialize;

use crate::auth::Scope;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::media_type::MediaType;
use crate::reference::{RepositoryName, TagOrDigest};
use crate::transport::{Body, Method, Request};
use crate::url::Url;

/// What access an endpoint needs, for token scopes.
pub fn scope_for(method: Method, repository: &RepositoryName) -> Scope {
    let actions: &[&str] = match method {
        Method::Get | Method::Head => &["pull"],
        Method::Post | Method::Put | Method::Patch => &["pull", "push"],
        Method::Delete => &["delete"],
    };
    Scope::repository(repository.as_str(), actions)
}

fn repo_url(base: &Url, repository: &RepositoryName, rest: &str) -> Url {
    base.with_path(&format!("/v2/{}/{rest}", repository.as_str()))
}

/// `GET /v2/`: is this a registry, and how does it want us to authenticate?
pub fn ping<B>(base: &Url) -> Request<B> {
    Request::new(Method::Get, base.with_path("/v2/"))
}

/// `GET /v2/_catalog?n=&last=`.
pub fn catalog<B>(base: &Url, page_size: Option<u32>, last: Option<&str>) -> Request<B> {
    Request::new(
        Method::Get,
        paged(base.with_path("/v2/_catalog"), page_size, last),
    )
}

/// `GET /v2/<name>/tags/list?n=&last=`.
pub fn tags<B>(
    base: &Url,
    repository: &RepositoryName,
    page_size: Option<u32>,
    last: Option<&str>,
) -> Request<B> {
    Request::new(
        Method::Get,
        paged(repo_url(base, repository, "tags/list"), page_size, last),
    )
}

fn paged(mut url: Url, page_size: Option<u32>, last: Option<&str>) -> Url {
    if let Some(n) = page_size {
        url = url.with_query_param("n", &n.to_string());
    }
    if let Some(last) = last {
        url = url.with_query_param("last", last);
    }
    url
}

/// `GET` (or `HEAD`) `/v2/<name>/manifests/<reference>` with every manifest type in `Accept`.
pub fn get_manifest<B>(
    base: &Url,
    repository: &RepositoryName,
    reference: &TagOrDigest,
    head: bool,
) -> Request<B> {
    let method = if head { Method::Head } else { Method::Get };
    Request::new(
        method,
        repo_url(
            base,
            repository,
            &format!("manifests/{}", reference.as_str()),
        ),
    )
    .header("Accept", MediaType::MANIFEST_ACCEPT.join(", "))
}

/// `PUT /v2/<name>/manifests/<reference>` with the manifest's exact bytes.
pub fn put_manifest<B>(
    base: &Url,
    repository: &RepositoryName,
    reference: &TagOrDigest,
    manifest: &Manifest,
) -> Request<B> {
    Request::new(
        Method::Put,
        repo_url(
            base,
            repository,
            &format!("manifests/{}", reference.as_str()),
        ),
    )
    .header("Content-Type", manifest.media_type.as_str())
    .with_body(Body::Bytes(manifest.raw.clone()))
}

/// `DELETE /v2/<name>/manifests/<reference>`.
pub fn delete_manifest<B>(
    base: &Url,
    repository: &RepositoryName,
    reference: &TagOrDigest,
) -> Request<B> {
    Request::new(
        Method::Delete,
        repo_url(
            base,
            repository,
            &format!("manifests/{}", reference.as_str()),
        ),
    )
}

/// `HEAD`, `GET` or `DELETE` `/v2/<name>/blobs/<digest>`.
pub fn blob<B>(
    base: &Url,
    repository: &RepositoryName,
    digest: &Digest,
    method: Method,
) -> Request<B> {
    Request::new(
        method,
        repo_url(base, repository, &format!("blobs/{}", digest.as_str())),
    )
}

/// `POST /v2/<name>/blobs/uploads/`: opens an upload session.
pub fn start_upload<B>(base: &Url, repository: &RepositoryName) -> Request<B> {
    Request::new(Method::Post, repo_url(base, repository, "blobs/uploads/"))
        .header("Content-Length", "0")
}

/// `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>`: a cross-repository mount. 201
/// means mounted; 202 opens an ordinary upload session instead.
pub fn mount_blob<B>(
    base: &Url,
    repository: &RepositoryName,
    digest: &Digest,
    from: &RepositoryName,
) -> Request<B> {
    let url = repo_url(base, repository, "blobs/uploads/")
        .with_query_param("mount", digest.as_str())
        .with_query_param("from", from.as_str());
    Request::new(Method::Post, url).header("Content-Length", "0")
}

/// `GET /v2/<name>/referrers/<digest>[?artifactType=]`.
pub fn referrers<B>(
    base: &Url,
    repository: &RepositoryName,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Request<B> {
    let mut url = repo_url(base, repository, &format!("referrers/{}", subject.as_str()));
    if let Some(t) = artifact_type {
        url = url.with_query_param("artifactType", t);
    }
    Request::new(Method::Get, url).header("Accept", MediaType::OCI_INDEX)
}

#[derive(Deserialize)]
struct CatalogBody {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagsBody {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// Parses a catalog page: `{"repositories": [...]}` (a `null` list is an empty page).
pub fn parse_catalog(body: &[u8]) -> Result<Vec<String>> {
    let parsed: CatalogBody = serde_json::from_slice(body).map_err(|e| Error::Parse {
        what: "the repository list".into(),
        reason: e.to_string(),
    })?;
    Ok(parsed.repositories.unwrap_or_default())
}

/// Parses a tag page: `{"name": ..., "tags": [...]}` (a `null` list is an empty page).
pub fn parse_tags(body: &[u8]) -> Result<Vec<String>> {
    let parsed: TagsBody = serde_json::from_slice(body).map_err(|e| Error::Parse {
        what: "the tag list".into(),
        reason: e.to_string(),
    })?;
    Ok(parsed.tags.unwrap_or_default())
}

/// A continuation token: the path and query of the next page's URL (what `Link` said), which
/// the caller may keep and hand back later.
pub fn continuation_token(next: &Url) -> String {
    next.path_and_query().to_string()
}

/// Turns a continuation token back into a URL on this registry, refusing anything that is not
/// a `/v2/` path there (a token is caller input, so it must not send requests elsewhere).
pub fn resume_url(base: &Url, token: &str) -> Result<Url> {
    if !token.starts_with("/v2/") && !token.starts_with("/acr/v1/") {
        return Err(Error::invalid(
            "continuation token",
            token,
            "it must be a token returned by a previous page",
        ));
    }
    let url = base.join(token)?;
    if !url.same_origin(base) {
        return Err(Error::invalid(
            "continuation token",
            token,
            "it points to another registry",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::NoNativeBody;

    type R = Request<NoNativeBody>;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:5000").unwrap()
    }

    fn repo() -> RepositoryName {
        RepositoryName::parse("ns/app").unwrap()
    }

    #[test]
    fn builds_urls() {
        let r: R = catalog(&base(), Some(1000), Some("a/b"));
        assert_eq!(
            r.url.as_str(),
            "http://127.0.0.1:5000/v2/_catalog?n=1000&last=a%2Fb"
        );
        let r: R = tags(&base(), &repo(), None, None);
        assert_eq!(r.url.as_str(), "http://127.0.0.1:5000/v2/ns/app/tags/list");
        let d = Digest::sha256_of(b"x");
        let r: R = mount_blob(
            &base(),
            &repo(),
            &d,
            &RepositoryName::parse("other").unwrap(),
        );
        assert_eq!(r.url.query_param("mount").unwrap(), d.as_str());
        assert_eq!(r.url.query_param("from").unwrap(), "other");
        let r: R = referrers(&base(), &repo(), &d, Some("application/vnd.x+json"));
        assert_eq!(
            r.url.query_param("artifactType").unwrap(),
            "application/vnd.x+json"
        );
    }

    #[test]
    fn manifest_get_accepts_every_type() {
        let r: R = get_manifest(&base(), &repo(), &TagOrDigest::parse("v1").unwrap(), false);
        let accept = r.headers.get("accept").unwrap();
        for t in MediaType::MANIFEST_ACCEPT {
            assert!(accept.contains(t));
        }
        assert_eq!(r.url.path(), "/v2/ns/app/manifests/v1");
    }

    #[test]
    fn scopes_per_method() {
        assert_eq!(
            scope_for(Method::Head, &repo()).to_string(),
            "repository:ns/app:pull"
        );
        assert_eq!(
            scope_for(Method::Patch, &repo()).to_string(),
            "repository:ns/app:pull,push"
        );
        assert_eq!(
            scope_for(Method::Delete, &repo()).to_string(),
            "repository:ns/app:delete"
        );
    }

    #[test]
    fn list_parsers() {
        assert_eq!(
            parse_catalog(br#"{"repositories":["a","b"]}"#).unwrap(),
            ["a", "b"]
        );
        assert!(parse_catalog(br#"{"repositories":null}"#)
            .unwrap()
            .is_empty());
        assert_eq!(parse_tags(br#"{"name":"x","tags":["1"]}"#).unwrap(), ["1"]);
        assert!(parse_tags(br#"{"name":"x","tags":null}"#)
            .unwrap()
            .is_empty());
        assert_eq!(parse_tags(b"<html>").unwrap_err().code(), "PARSE_ERROR");
    }

    #[test]
    fn continuation_tokens_stay_on_the_registry() {
        let next = base().join("/v2/_catalog?last=b&n=2").unwrap();
        let token = continuation_token(&next);
        assert_eq!(resume_url(&base(), &token).unwrap(), next);
        assert!(resume_url(&base(), "//evil.example/v2/").is_err());
        assert!(resume_url(&base(), "http://evil.example/v2/").is_err());
        assert!(resume_url(&base(), "/etc/passwd").is_err());
    }
}
