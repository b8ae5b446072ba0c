//! `/acr/v1/...`: repository, tag and manifest properties (reference/acr-rest-api.md sections
//! 1, 2, 4 and 6), answered from the emulator's store.

use std::fs;

use porthole_core::url::{percent_decode, percent_encode};
use serde_json::{json, Map, Value};

use super::oauth::authorize;
use super::store::{RepoMeta, Ticks};
use super::{acr_error, page_not_found, Incoming, Shared};
use crate::server::ServerResponse;

/// ACR's answer to an operation a lock forbids. Observed live (Azure/azure-sdk-for-net#22827):
/// `405` with this code and message, `detail` an empty object; the ACR FAQ entry it links to
/// covers pushes, pulls and deletes refused by `writeEnabled`/`readEnabled`/`deleteEnabled`.
pub(crate) fn disallowed() -> ServerResponse {
    acr_error(
        405,
        "REGISTRY_DISALLOWED_OPERATION",
        "The operation is disallowed on this registry, repository or image. View troubleshooting \
         steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation",
        json!({}),
    )
}

fn name_unknown(name: &str) -> ServerResponse {
    acr_error(
        404,
        "NAME_UNKNOWN",
        "repository name not known to registry",
        json!({ "name": name }),
    )
}

fn tag_unknown() -> ServerResponse {
    acr_error(
        404,
        "TAG_UNKNOWN",
        "the specified tag does not exist",
        // Recorded with no `detail` (reference section 1).
        Value::Null,
    )
}

/// Not recorded in the references: distribution's code for an unknown manifest.
fn manifest_unknown() -> ServerResponse {
    acr_error(404, "MANIFEST_UNKNOWN", "manifest unknown", json!({}))
}

fn ok(value: &Value) -> ServerResponse {
    ServerResponse::new(200)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(value.to_string().into_bytes())
}

/// Which resource under `/acr/v1/{name}` a path names.
enum Sub<'a> {
    Repository,
    Tags,
    Tag(&'a str),
    Manifests,
    Manifest(&'a str),
}

/// Splits `{name}/_tags/{tag}` and friends. Repository path components cannot start with `_`,
/// so `/_tags` and `/_manifests` are unambiguous; the name may be percent-encoded (`%2F`).
fn split_route(rest: &str) -> Option<(String, Sub<'_>)> {
    for marker in ["/_tags", "/_manifests"] {
        let Some(at) = rest.find(marker) else {
            continue;
        };
        let name = percent_decode(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let one = after
            .strip_prefix('/')
            .filter(|r| !r.is_empty() && !r.contains('/'));
        return match (marker, after, one) {
            ("/_tags", "" | "/", _) => Some((name, Sub::Tags)),
            ("/_tags", _, Some(tag)) => Some((name, Sub::Tag(tag))),
            (_, "" | "/", _) => Some((name, Sub::Manifests)),
            (_, _, Some(digest)) => Some((name, Sub::Manifest(digest))),
            _ => None,
        };
    }
    (!rest.is_empty()).then(|| (percent_decode(rest.trim_end_matches('/')), Sub::Repository))
}

/// Routes `/acr/v1/...`.
pub(crate) fn handle(shared: &Shared, req: &Incoming) -> ServerResponse {
    let rest = &req.path()["/acr/v1/".len()..];
    let result = if rest == "_catalog" {
        match req.method.as_str() {
            "GET" => catalog(shared, req),
            _ => Ok(page_not_found()),
        }
    } else {
        match split_route(rest) {
            Some((name, sub)) => route(shared, req, &name, sub),
            None => Ok(page_not_found()),
        }
    };
    result.unwrap_or_else(|e| e)
}

type Answer = Result<ServerResponse, ServerResponse>;

fn route(shared: &Shared, req: &Incoming, name: &str, sub: Sub<'_>) -> Answer {
    let action = match req.method.as_str() {
        "GET" => "metadata_read",
        "PATCH" => "metadata_write",
        "DELETE" => "delete",
        _ => return Ok(page_not_found()),
    };
    let unsupported = matches!(
        (&sub, action),
        (Sub::Tags | Sub::Manifests, "metadata_write" | "delete") | (Sub::Manifest(_), "delete")
    );
    if unsupported {
        return Ok(page_not_found());
    }
    authorize(shared, req, "repository", name, action)?;
    let registry = shared.service.as_str();
    let mut repos = shared.store.repos.lock().unwrap_or_else(|e| e.into_inner());
    let Some(repo) = repos.get_mut(name) else {
        // An unknown repository under `_tags/{tag}` got the plain 404 in a 2023 recording.
        return Ok(match sub {
            Sub::Tag(_) => page_not_found(),
            _ => name_unknown(name),
        });
    };
    match (sub, action) {
        (Sub::Repository, "metadata_read") => Ok(ok(&repo.to_json(registry, name))),
        (Sub::Repository, "metadata_write") => {
            repo.attributes.patch(&patch_body(req)?).map_err(bad_body)?;
            Ok(ok(&repo.to_json(registry, name)))
        }
        (Sub::Repository, _) => {
            let locked = !repo.attributes.deletable()
                || repo.manifests.values().any(|m| !m.attributes.deletable())
                || repo.tags.values().any(|t| !t.attributes.deletable());
            if locked {
                return Ok(disallowed());
            }
            let body = json!({
                "manifestsDeleted": repo.manifests.keys().collect::<Vec<_>>(),
                "tagsDeleted": repo.tags.keys().collect::<Vec<_>>(),
            });
            repos.remove(name);
            drop(repos);
            remove_repository_storage(shared, name);
            Ok(ServerResponse::new(202)
                .header("Content-Type", "application/json; charset=utf-8")
                .body(body.to_string().into_bytes()))
        }
        (Sub::Tags, _) => tags(registry, name, repo, req),
        (Sub::Tag(raw), action) => {
            let tag = percent_decode(raw);
            let Some(meta) = repo.tags.get_mut(&tag) else {
                return Ok(tag_unknown());
            };
            match action {
                "metadata_read" => {}
                "metadata_write" => meta.attributes.patch(&patch_body(req)?).map_err(bad_body)?,
                _ => {
                    if !meta.attributes.deletable() || !repo.attributes.deletable() {
                        return Ok(disallowed());
                    }
                    let digest = meta.digest.clone();
                    repo.tags.remove(&tag);
                    repo.updated = shared.store.now();
                    drop(repos);
                    remove_tag_storage(shared, name, &tag);
                    // Recorded: 202, no body, the digest the tag pointed at in this header.
                    return Ok(
                        ServerResponse::new(202).header("X-Ms-Int-Docker-Content-Digest", digest)
                    );
                }
            }
            let meta = repo.tags[&tag].clone();
            Ok(ok(&json!({
                "registry": registry,
                "imageName": name,
                "tag": repo.tag_json(&tag, &meta),
            })))
        }
        (Sub::Manifests, _) => manifests(registry, name, repo, req),
        (Sub::Manifest(raw), action) => {
            let digest = percent_decode(raw);
            let Some(meta) = repo.manifests.get_mut(&digest) else {
                return Ok(manifest_unknown());
            };
            if action == "metadata_write" {
                meta.attributes.patch(&patch_body(req)?).map_err(bad_body)?;
            }
            let meta = repo.manifests[&digest].clone();
            Ok(ok(&json!({
                "registry": registry,
                "imageName": name,
                "manifest": repo.manifest_json(&meta),
            })))
        }
    }
}

fn bad_body(message: String) -> ServerResponse {
    acr_error(400, "BAD_REQUEST", &message, json!({}))
}

/// A PATCH body: a JSON object, or (as in the spec's own example) a JSON string holding one.
fn patch_body(req: &Incoming) -> Result<Map<String, Value>, ServerResponse> {
    let fail = || bad_body("the body must be a JSON object of changeable attributes".into());
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(&req.body).map_err(|_| fail())?;
    let value = match value {
        Value::String(inner) => serde_json::from_str(&inner).map_err(|_| fail())?,
        other => other,
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(fail()),
    }
}

/// `n`, `last` and `orderby` of a listing.
struct PageQuery {
    n: Option<usize>,
    last: Option<String>,
    orderby: String,
}

fn page_query(req: &Incoming) -> Result<PageQuery, ServerResponse> {
    let n = match req.param("n") {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            // Not in the references: distribution's code for a bad `n`.
            _ => {
                return Err(acr_error(
                    400,
                    "PAGINATION_NUMBER_INVALID",
                    "invalid number of results requested",
                    json!({ "n": text }),
                ))
            }
        },
    };
    Ok(PageQuery {
        n,
        last: req.param("last").filter(|l| !l.is_empty()),
        orderby: req.param("orderby").unwrap_or_default(),
    })
}

/// Orders `items` (key, last update, value) as `orderby` asks, skips through `last` and
/// takes `n`. Returns the page and, when more follow, the key to continue after.
fn paginate<T>(mut items: Vec<(String, Ticks, T)>, query: &PageQuery) -> (Vec<T>, Option<String>) {
    let by_time = matches!(query.orderby.as_str(), "timedesc" | "timeasc");
    match query.orderby.as_str() {
        "timedesc" => items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0))),
        "timeasc" => items.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0))),
        _ => items.sort_by(|a, b| a.0.cmp(&b.0)),
    }
    if let Some(last) = &query.last {
        // Lexical order: "values lexically after last". Time order: after `last`'s place.
        match items.iter().position(|i| &i.0 == last) {
            Some(at) if by_time => {
                items.drain(..=at);
            }
            _ => items.retain(|i| i.0.as_str() > last.as_str()),
        }
    }
    let more = query.n.is_some_and(|n| items.len() > n);
    if let Some(n) = query.n {
        items.truncate(n);
    }
    let next = more.then(|| items.last().map(|i| i.0.clone())).flatten();
    (items.into_iter().map(|i| i.2).collect(), next)
}

/// `Link: </acr/v1/...?last=...&n=...&orderby=...>; rel="next"` as section 6 records it:
/// relative, `orderby` echoed even when empty, no `api-version`. The digest filter of `_tags`
/// is carried too (not recorded; without it a next page would drop the filter).
fn link(path: &str, next: &str, query: &PageQuery, digest: Option<&str>) -> String {
    let mut target = format!(
        "{path}?last={}&n={}&orderby={}",
        percent_encode(next),
        query.n.unwrap_or_default(),
        percent_encode(&query.orderby)
    );
    if let Some(digest) = digest {
        target.push_str(&format!("&digest={}", percent_encode(digest)));
    }
    format!("<{target}>; rel=\"next\"")
}

fn with_link(response: ServerResponse, link: Option<String>) -> ServerResponse {
    match link {
        Some(link) => response.header("Link", link),
        None => response,
    }
}

fn catalog(shared: &Shared, req: &Incoming) -> Answer {
    authorize(shared, req, "registry", "catalog", "*")?;
    let query = page_query(req)?;
    let repos = shared.store.repos.lock().unwrap_or_else(|e| e.into_inner());
    let items = repos
        .iter()
        .filter(|(_, r)| r.attributes.list_enabled)
        .map(|(name, r)| (name.clone(), r.updated, name.clone()))
        .collect();
    let (names, next) = paginate(items, &query);
    let link = next.map(|n| link("/acr/v1/_catalog", &n, &query, None));
    Ok(with_link(ok(&json!({ "repositories": names })), link))
}

fn tags(registry: &str, name: &str, repo: &RepoMeta, req: &Incoming) -> Answer {
    let query = page_query(req)?;
    let digest = req.param("digest").filter(|d| !d.is_empty());
    let items = repo
        .tags
        .iter()
        .filter(|(_, t)| t.attributes.list_enabled)
        .filter(|(_, t)| digest.as_ref().is_none_or(|d| &t.digest == d))
        .map(|(tag, t)| (tag.clone(), t.updated, repo.tag_json(tag, t)))
        .collect();
    let (tags, next) = paginate(items, &query);
    let path = format!("/acr/v1/{}/_tags", percent_encode(name));
    let link = next.map(|n| link(&path, &n, &query, digest.as_deref()));
    let body = json!({"registry": registry, "imageName": name, "tags": tags});
    Ok(with_link(ok(&body), link))
}

fn manifests(registry: &str, name: &str, repo: &RepoMeta, req: &Incoming) -> Answer {
    let query = page_query(req)?;
    let items = repo
        .manifests
        .values()
        .filter(|m| m.attributes.list_enabled)
        .map(|m| (m.digest.clone(), m.updated, repo.manifest_json(m)))
        .collect();
    let (manifests, next) = paginate(items, &query);
    let path = format!("/acr/v1/{}/_manifests", percent_encode(name));
    let link = next.map(|n| link(&path, &n, &query, None));
    let body = json!({"registry": registry, "imageName": name, "manifests": manifests});
    Ok(with_link(ok(&body), link))
}

/// The repository's directory in the registry's storage.
fn repository_dir(shared: &Shared, name: &str) -> std::path::PathBuf {
    shared
        .data_dir
        .join("docker/registry/v2/repositories")
        .join(name)
}

/// Distribution 2.8 cannot delete a tag over HTTP, so the emulator removes the tag's link from
/// the registry's storage (no cache is configured, so the registry reads it afresh).
fn remove_tag_storage(shared: &Shared, name: &str, tag: &str) {
    let dir = repository_dir(shared, name)
        .join("_manifests/tags")
        .join(tag);
    let _ = fs::remove_dir_all(dir);
}

/// Removes the repository's own data (not nested repositories under the same prefix).
fn remove_repository_storage(shared: &Shared, name: &str) {
    let dir = repository_dir(shared, name);
    for part in ["_manifests", "_layers", "_uploads"] {
        let _ = fs::remove_dir_all(dir.join(part));
    }
    let _ = fs::remove_dir(&dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(n: Option<usize>, last: Option<&str>, orderby: &str) -> PageQuery {
        PageQuery {
            n,
            last: last.map(String::from),
            orderby: orderby.into(),
        }
    }

    #[test]
    fn pages_in_lexical_and_time_order() {
        let items = || {
            vec![
                ("b".to_string(), 1, "b"),
                ("a".to_string(), 3, "a"),
                ("c".to_string(), 2, "c"),
            ]
        };
        assert_eq!(
            paginate(items(), &query(Some(2), None, "")),
            (vec!["a", "b"], Some("b".into()))
        );
        assert_eq!(
            paginate(items(), &query(Some(2), Some("b"), "")),
            (vec!["c"], None)
        );
        assert_eq!(
            paginate(items(), &query(Some(1), Some("a"), "timedesc")),
            (vec!["c"], Some("c".into()))
        );
        assert_eq!(
            paginate(items(), &query(None, None, "timeasc")),
            (vec!["b", "c", "a"], None)
        );
    }

    #[test]
    fn routes_encoded_names() {
        let Some((name, Sub::Tag(tag))) = split_route("library%2Fhello/_tags/v1") else {
            panic!("not a tag route");
        };
        assert_eq!((name.as_str(), tag), ("library/hello", "v1"));
        assert!(matches!(
            split_route("library/hello/_manifests"),
            Some((_, Sub::Manifests))
        ));
        assert!(matches!(
            split_route("library/hello"),
            Some((n, Sub::Repository)) if n == "library/hello"
        ));
    }

    #[test]
    fn links_are_relative_and_echo_orderby() {
        let q = query(Some(1), None, "");
        assert_eq!(
            link("/acr/v1/_catalog", "library/hello-world", &q, None),
            "</acr/v1/_catalog?last=library%2Fhello-world&n=1&orderby=>; rel=\"next\""
        );
    }
}
