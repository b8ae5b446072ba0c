//! The ACR emulator over raw HTTP: token exchange, `/acr/v1` shapes against
//! reference/acr-rest-api.md, paging, locks, access control by the registry, CORS.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use porthole_core::url::{form_encode, percent_encode};
use porthole_core::{Body, Digest, Headers, Method, Request, Url};
use porthole_testkit::acr::{ADMIN_PASSWORD, ADMIN_USER, DEFAULT_AUDIENCE, OWNER, READER};
use porthole_testkit::{process_alive, AcrEmulator, NativeTransport};
use serde_json::{json, Value};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Status, headers and the whole body of one exchange.
struct Answer {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn send(request: Request<Vec<u8>>) -> Answer {
    let mut response = NativeTransport::new()
        .send_blocking(request)
        .expect("an answer");
    let body = response.body.read_to_end().expect("a readable body");
    Answer {
        status: response.status,
        headers: response.headers,
        body,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn post_form(emu: &AcrEmulator, path: &str, pairs: &[(&str, &str)]) -> Answer {
    let body = form_encode(pairs.iter().copied()).into_bytes();
    send(
        Request::new(Method::Post, emu.endpoint(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .with_body(Body::Bytes(body)),
    )
}

/// The ACR refresh token for an identity, through `/oauth2/exchange`.
fn refresh_token(emu: &AcrEmulator, identity: &str) -> String {
    let aad = emu.aad_token_for(identity, DEFAULT_AUDIENCE, 3600).unwrap();
    let answer = post_form(
        emu,
        "/oauth2/exchange",
        &[
            ("grant_type", "access_token"),
            ("service", emu.service()),
            ("tenant", porthole_testkit::acr::TENANT),
            ("access_token", &aad),
        ],
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["refresh_token"].as_str().unwrap().to_string()
}

/// An access token for `scope` from a refresh token.
fn access_token(emu: &AcrEmulator, refresh: &str, scope: &str) -> String {
    let answer = post_form(
        emu,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("service", emu.service()),
            ("scope", scope),
            ("refresh_token", refresh),
        ],
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["access_token"].as_str().unwrap().to_string()
}

/// An access token for the owner identity.
fn owner_token(emu: &AcrEmulator, scope: &str) -> String {
    access_token(emu, &refresh_token(emu, OWNER), scope)
}

fn get(emu: &AcrEmulator, path: &str, token: &str) -> Answer {
    send(
        Request::new(Method::Get, emu.endpoint(path))
            .header("Authorization", bearer(token))
            .header("Accept", format!("{OCI_MANIFEST}, {OCI_INDEX}")),
    )
}

/// Uploads a blob (POST, then PUT with the digest) and returns its descriptor.
fn push_blob(emu: &AcrEmulator, repo: &str, token: &str, media_type: &str, bytes: &[u8]) -> Value {
    let digest = Digest::sha256_of(bytes);
    let started = send(
        Request::new(
            Method::Post,
            emu.endpoint(&format!("/v2/{repo}/blobs/uploads/")),
        )
        .header("Authorization", bearer(token)),
    );
    assert_eq!(started.status, 202, "{}", started.text());
    let location = started.header("location");
    assert!(
        location.starts_with("/v2/"),
        "relative Location: {location}"
    );
    let url = emu
        .endpoint("/")
        .join(location)
        .unwrap()
        .with_query_param("digest", digest.as_str());
    let done = send(
        Request::new(Method::Put, url)
            .header("Authorization", bearer(token))
            .header("Content-Type", "application/octet-stream")
            .with_body(Body::Bytes(bytes.to_vec())),
    );
    assert_eq!(done.status, 201, "{}", done.text());
    json!({"mediaType": media_type, "digest": digest.as_str(), "size": bytes.len()})
}

fn put_manifest(
    emu: &AcrEmulator,
    repo: &str,
    token: &str,
    reference: &str,
    media_type: &str,
    manifest: &Value,
) -> Answer {
    send(
        Request::new(
            Method::Put,
            emu.endpoint(&format!("/v2/{repo}/manifests/{reference}")),
        )
        .header("Authorization", bearer(token))
        .header("Content-Type", media_type)
        .with_body(Body::Bytes(manifest.to_string().into_bytes())),
    )
}

/// Pushes an amd64/linux image with one layer under `tag`; `salt` makes a distinct manifest.
/// Returns the manifest digest.
fn push_image(emu: &AcrEmulator, repo: &str, token: &str, tag: &str, salt: &str) -> String {
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
    let config = push_blob(emu, repo, token, OCI_CONFIG, config.to_string().as_bytes());
    let layer = push_blob(
        emu,
        repo,
        token,
        "application/vnd.oci.image.layer.v1.tar",
        b"layer bytes",
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": [layer],
        "annotations": {"salt": salt},
    });
    let answer = put_manifest(emu, repo, token, tag, OCI_MANIFEST, &manifest);
    assert_eq!(answer.status, 201, "{}", answer.text());
    let digest = answer.header("docker-content-digest").to_string();
    assert_eq!(
        digest,
        Digest::sha256_of(manifest.to_string().as_bytes()).as_str()
    );
    digest
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `2024-06-20T20:46:29.9724588Z`: seven fractional digits, as ACR prints.
fn assert_acr_time(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    let bytes = text.as_bytes();
    assert_eq!(text.len(), 28, "{text}");
    assert_eq!(
        (bytes[4], bytes[10], bytes[19], bytes[27]),
        (b'-', b'T', b'.', b'Z'),
        "{text}"
    );
    assert!(text[20..27].bytes().all(|b| b.is_ascii_digit()), "{text}");
}

const ATTRIBUTE_KEYS: [&str; 4] = [
    "deleteEnabled",
    "writeEnabled",
    "readEnabled",
    "listEnabled",
];

fn assert_error(answer: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(answer.status, status, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["errors"][0]["code"], code, "{body}");
    body
}

#[test]
fn token_exchange_then_the_registry_enforces_access() {
    let emu = AcrEmulator::start().unwrap();
    let host = emu.service().to_string();

    // The challenge names the emulator's realm and service, as ACR's does.
    let v2 = send(Request::new(Method::Get, emu.endpoint("/v2/")));
    assert_eq!(v2.status, 401);
    let challenge = v2.header("www-authenticate");
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"http://{host}/oauth2/token\",service=\"{host}\""
        )),
        "{challenge}"
    );

    // AAD → refresh token (a JWT with exp) → access token the registry accepts.
    let refresh = refresh_token(&emu, OWNER);
    let refresh_claims = claims(&refresh);
    assert!(refresh_claims["exp"].as_u64().unwrap() > refresh_claims["iat"].as_u64().unwrap());
    assert_eq!(refresh_claims["aud"], host.as_str());
    let push = access_token(&emu, &refresh, "repository:app:pull,push");
    assert_eq!(
        claims(&push)["access"],
        json!([{"type": "repository", "name": "app", "actions": ["pull", "push"]}])
    );
    let digest = push_image(&emu, "app", &push, "v1", "a");

    // A token without pull: the registry itself refuses, with ACR's 401.
    let metadata_only = access_token(&emu, &refresh, "repository:app:metadata_read");
    let refused = get(&emu, "/v2/app/manifests/v1", &metadata_only);
    let body = assert_error(&refused, 401, "UNAUTHORIZED");
    assert!(
        refused
            .header("www-authenticate")
            .contains("scope=\"repository:app:pull\""),
        "{}",
        refused.header("www-authenticate")
    );
    assert_eq!(
        body["errors"][0]["detail"],
        json!([{"Type": "repository", "Name": "app", "Action": "pull"}])
    );
    let pull = access_token(&emu, &refresh, "repository:app:pull");
    let pulled = get(&emu, "/v2/app/manifests/v1", &pull);
    assert_eq!(pulled.status, 200, "{}", pulled.text());
    assert_eq!(pulled.header("docker-content-digest"), digest);
    assert_eq!(Digest::sha256_of(&pulled.body).as_str(), digest);

    // The reader asks for push and gets pull only; its push is refused by the registry.
    let reader = access_token(
        &emu,
        &refresh_token(&emu, READER),
        "repository:app:pull,push",
    );
    assert_eq!(claims(&reader)["access"][0]["actions"], json!(["pull"]));
    let manifest = serde_json::from_slice::<Value>(&pulled.body).unwrap();
    let denied = put_manifest(&emu, "app", &reader, "v2", OCI_MANIFEST, &manifest);
    assert_eq!(denied.status, 401, "{}", denied.text());
    assert!(denied
        .header("www-authenticate")
        .contains("error=\"insufficient_scope\""));

    // The admin user: GET with basic auth, and the password grant.
    let admin = send(
        Request::new(
            Method::Get,
            emu.endpoint("/oauth2/token")
                .with_query_param("service", &host)
                .with_query_param("scope", "repository:app:pull"),
        )
        .header("Authorization", basic(ADMIN_USER, ADMIN_PASSWORD)),
    );
    assert_eq!(admin.status, 200, "{}", admin.text());
    let admin_token = admin.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(get(&emu, "/v2/app/manifests/v1", &admin_token).status, 200);
    let wrong = post_form(
        &emu,
        "/oauth2/token",
        &[
            ("grant_type", "password"),
            ("service", &host),
            ("scope", "repository:app:pull"),
            ("username", ADMIN_USER),
            ("password", "wrong"),
        ],
    );
    assert_error(&wrong, 401, "UNAUTHORIZED");

    // Anonymous pull: refused until enabled, then pull works and push still does not.
    let anonymous = |scope: &str| {
        post_form(
            &emu,
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("service", &host),
                ("refresh_token", ""),
                ("scope", scope),
            ],
        )
    };
    assert_error(&anonymous("repository:app:pull"), 401, "UNAUTHORIZED");
    emu.set_anonymous_pull(true);
    let answer = anonymous("repository:app:pull,push");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let token = answer.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(&token)["access"][0]["actions"], json!(["pull"]));
    assert_eq!(get(&emu, "/v2/app/manifests/v1", &token).status, 200);
}

#[test]
fn bad_aad_and_expired_refresh_tokens_are_refused_clearly() {
    let emu = AcrEmulator::builder()
        .refresh_token_lifetime(Duration::from_secs(1))
        .start()
        .unwrap();
    let exchange = |aad: &str| {
        post_form(
            &emu,
            "/oauth2/exchange",
            &[
                ("grant_type", "access_token"),
                ("service", emu.service()),
                ("access_token", aad),
            ],
        )
    };
    let refused = |aad: &str, reason: &str| {
        let answer = exchange(aad);
        let body = assert_error(&answer, 401, "UNAUTHORIZED");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{message}");
        assert!(!answer.text().contains(aad), "the token is echoed");
    };
    let arm = emu
        .aad_token("https://management.azure.com", Duration::from_secs(600))
        .unwrap();
    refused(&arm, "audience 'https://management.azure.com'");
    let expired = emu.aad_token_for(OWNER, DEFAULT_AUDIENCE, -60).unwrap();
    refused(&expired, "expired");
    // Claims changed after signing: the signature no longer verifies.
    let good = emu
        .aad_token(DEFAULT_AUDIENCE, Duration::from_secs(600))
        .unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged_claims = claims(&good);
    forged_claims["oid"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    refused(&forged, "signature");
    refused("not-a-jwt", "not a JWT");
    // The wrong service is a bad request.
    let other = post_form(
        &emu,
        "/oauth2/exchange",
        &[
            ("grant_type", "access_token"),
            ("service", "other.azurecr.io"),
            ("access_token", &good),
        ],
    );
    assert_eq!(other.status, 400);

    // A refresh token expires; a new exchange renews it.
    let refresh = refresh_token(&emu, OWNER);
    std::thread::sleep(Duration::from_millis(2100));
    let stale = post_form(
        &emu,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("service", emu.service()),
            ("scope", "registry:catalog:*"),
            ("refresh_token", &refresh),
        ],
    );
    let body = assert_error(&stale, 401, "UNAUTHORIZED");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("refresh token expired"));
    let renewed = refresh_token(&emu, OWNER);
    access_token(&emu, &renewed, "registry:catalog:*");
}

#[test]
fn acr_v1_answers_in_the_reference_shapes() {
    let emu = AcrEmulator::start().unwrap();
    let host = emu.service().to_string();
    let repo = "library/hello";
    let enc = percent_encode(repo);
    let refresh = refresh_token(&emu, OWNER);
    let push = access_token(&emu, &refresh, &format!("repository:{repo}:pull,push"));
    let image = push_image(&emu, repo, &push, "v1", "one");
    // A second tag on the same image, and an index over it.
    let manifest = get(&emu, &format!("/v2/{repo}/manifests/v1"), &push);
    let again = put_manifest(
        &emu,
        repo,
        &push,
        "latest",
        OCI_MANIFEST,
        &serde_json::from_slice(&manifest.body).unwrap(),
    );
    assert_eq!(again.status, 201);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": image, "size": manifest.body.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}],
    });
    let put = put_manifest(&emu, repo, &push, "multi", OCI_INDEX, &index);
    assert_eq!(put.status, 201, "{}", put.text());
    let index_digest = put.header("docker-content-digest").to_string();

    // Without a token: ACR's challenge for the metadata scope and the detail array.
    let anonymous = send(Request::new(
        Method::Get,
        emu.endpoint(&format!("/acr/v1/{enc}/_tags")),
    ));
    let body = assert_error(&anonymous, 401, "UNAUTHORIZED");
    assert_eq!(
        body["errors"][0]["message"],
        "authentication required, visit https://aka.ms/acr/authorization for more information."
    );
    assert_eq!(
        body["errors"][0]["detail"],
        json!([{"Type": "repository", "Name": repo, "Action": "metadata_read"}])
    );
    assert_eq!(
        anonymous.header("www-authenticate"),
        format!(
            "Bearer realm=\"http://{host}/oauth2/token\",service=\"{host}\",scope=\"repository:{repo}:metadata_read\""
        )
    );

    let read = access_token(&emu, &refresh, &format!("repository:{repo}:metadata_read"));
    // 4.1 catalog
    let catalog = get(
        &emu,
        "/acr/v1/_catalog",
        &owner_token(&emu, "registry:catalog:*"),
    );
    assert_eq!(catalog.status, 200, "{}", catalog.text());
    assert_eq!(catalog.json(), json!({"repositories": [repo]}));

    // 4.2 repository
    let attrs = get(&emu, &format!("/acr/v1/{enc}"), &read);
    assert_eq!(attrs.status, 200, "{}", attrs.text());
    assert_eq!(
        attrs.header("docker-distribution-api-version"),
        "registry/2.0"
    );
    let attrs = attrs.json();
    assert_eq!(
        keys(&attrs),
        set(&[
            "registry",
            "imageName",
            "createdTime",
            "lastUpdateTime",
            "manifestCount",
            "tagCount",
            "changeableAttributes"
        ])
    );
    assert_eq!(
        (attrs["registry"].as_str(), attrs["imageName"].as_str()),
        (Some(host.as_str()), Some(repo))
    );
    assert_eq!(
        (attrs["manifestCount"].as_u64(), attrs["tagCount"].as_u64()),
        (Some(2), Some(3))
    );
    assert_acr_time(&attrs["createdTime"]);
    assert_acr_time(&attrs["lastUpdateTime"]);
    assert_eq!(keys(&attrs["changeableAttributes"]), set(&ATTRIBUTE_KEYS));

    // 4.4 tags
    let tags = get(&emu, &format!("/acr/v1/{enc}/_tags"), &read).json();
    assert_eq!(keys(&tags), set(&["registry", "imageName", "tags"]));
    let names: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["latest", "multi", "v1"]);
    for tag in tags["tags"].as_array().unwrap() {
        assert_eq!(
            keys(tag),
            set(&[
                "name",
                "digest",
                "createdTime",
                "lastUpdateTime",
                "signed",
                "changeableAttributes"
            ])
        );
        assert_acr_time(&tag["createdTime"]);
    }
    let filtered = get(
        &emu,
        &format!("/acr/v1/{enc}/_tags?digest={}", percent_encode(&image)),
        &read,
    )
    .json();
    assert_eq!(filtered["tags"].as_array().unwrap().len(), 2);
    let one = get(&emu, &format!("/acr/v1/{enc}/_tags/v1"), &read).json();
    assert_eq!(keys(&one), set(&["registry", "imageName", "tag"]));
    assert_eq!(one["tag"]["digest"], image.as_str());

    // 4.5 manifests: the image has platform and config type, the index its references.
    let list = get(&emu, &format!("/acr/v1/{enc}/_manifests"), &read).json();
    assert_eq!(keys(&list), set(&["registry", "imageName", "manifests"]));
    let props = get(
        &emu,
        &format!("/acr/v1/{enc}/_manifests/{}", percent_encode(&image)),
        &read,
    )
    .json();
    assert_eq!(keys(&props), set(&["registry", "imageName", "manifest"]));
    let m = &props["manifest"];
    assert_eq!(
        keys(m),
        set(&[
            "digest",
            "imageSize",
            "createdTime",
            "lastUpdateTime",
            "architecture",
            "os",
            "mediaType",
            "configMediaType",
            "tags",
            "changeableAttributes"
        ])
    );
    assert_eq!(
        (m["architecture"].as_str(), m["os"].as_str()),
        (Some("amd64"), Some("linux"))
    );
    assert_eq!(m["mediaType"], OCI_MANIFEST);
    assert_eq!(m["configMediaType"], OCI_CONFIG);
    assert_eq!(m["tags"], json!(["latest", "v1"]));
    assert!(m["imageSize"].as_u64().unwrap() > 0);
    let index_props = get(
        &emu,
        &format!("/acr/v1/{enc}/_manifests/{}", percent_encode(&index_digest)),
        &read,
    )
    .json();
    let ix = &index_props["manifest"];
    assert_eq!(
        keys(ix),
        set(&[
            "digest",
            "imageSize",
            "createdTime",
            "lastUpdateTime",
            "mediaType",
            "tags",
            "changeableAttributes",
            "references"
        ])
    );
    assert_eq!(
        ix["references"],
        json!([{"digest": image, "architecture": "amd64", "os": "linux"}])
    );
    // An index's size is its children's, without its own bytes (one child here).
    assert_eq!(ix["imageSize"], m["imageSize"]);

    // PATCH needs metadata_write: a read token gets the insufficient-scope challenge.
    let patch = |path: &str, token: &str, body: &str| {
        send(
            Request::new(Method::Patch, emu.endpoint(path))
                .header("Authorization", bearer(token))
                .header("Content-Type", "application/json")
                .with_body(Body::Bytes(body.as_bytes().to_vec())),
        )
    };
    let short = patch(
        &format!("/acr/v1/{enc}/_tags/v1"),
        &read,
        r#"{"listEnabled":false}"#,
    );
    assert_error(&short, 401, "UNAUTHORIZED");
    assert!(short.header("www-authenticate").ends_with(&format!(
        "scope=\"repository:{repo}:metadata_write\",error=\"insufficient_scope\""
    )));
    let write = access_token(&emu, &refresh, &format!("repository:{repo}:metadata_write"));
    let patched = patch(
        &format!("/acr/v1/{enc}/_tags/v1"),
        &write,
        r#"{"writeEnabled":false}"#,
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    let patched = patched.json();
    assert_eq!(
        patched["tag"]["changeableAttributes"]["writeEnabled"],
        false
    );
    assert_eq!(
        patched["tag"]["lastUpdateTime"],
        one["tag"]["lastUpdateTime"]
    );
    // The spec's own example sends the body as a JSON string.
    let as_string = patch(
        &format!("/acr/v1/{enc}/_tags/v1"),
        &write,
        r#""{\"writeEnabled\": true}""#,
    );
    assert_eq!(
        as_string.json()["tag"]["changeableAttributes"]["writeEnabled"],
        true
    );
    let repo_patch = patch(&format!("/acr/v1/{enc}"), &write, r#"{"readEnabled":true}"#);
    assert_eq!(keys(&repo_patch.json()), keys(&attrs));
    let manifest_patch = patch(
        &format!("/acr/v1/{enc}/_manifests/{}", percent_encode(&image)),
        &write,
        r#"{"deleteEnabled":false}"#,
    );
    assert_eq!(
        manifest_patch.json()["manifest"]["changeableAttributes"]["deleteEnabled"],
        false
    );
    patch(
        &format!("/acr/v1/{enc}/_manifests/{}", percent_encode(&image)),
        &write,
        r#"{"deleteEnabled":true}"#,
    );

    // 404s as recorded.
    assert_eq!(
        assert_error(
            &get(&emu, &format!("/acr/v1/{enc}/_tags/nope"), &read),
            404,
            "TAG_UNKNOWN"
        ),
        json!({"errors": [{"code": "TAG_UNKNOWN", "message": "the specified tag does not exist"}]}),
        "the body as recorded, without a detail"
    );
    let missing_read = access_token(&emu, &refresh, "repository:missing:metadata_read");
    let plain = get(&emu, "/acr/v1/missing/_tags/v1", &missing_read);
    assert_eq!(
        (plain.status, plain.text().as_str()),
        (404, "404 page not found\n")
    );
    assert_eq!(plain.header("content-type"), "text/plain; charset=utf-8");
    let delete = |path: &str, token: &str| {
        send(
            Request::new(Method::Delete, emu.endpoint(path)).header("Authorization", bearer(token)),
        )
    };
    let missing_delete = access_token(&emu, &refresh, "repository:missing:delete");
    let gone = assert_error(
        &delete("/acr/v1/missing", &missing_delete),
        404,
        "NAME_UNKNOWN",
    );
    assert_eq!(gone["errors"][0]["detail"], json!({"name": "missing"}));

    // DELETE tag: 202, no body, the digest in X-Ms-Int-Docker-Content-Digest.
    let del = access_token(&emu, &refresh, &format!("repository:{repo}:delete"));
    let untag = delete(&format!("/acr/v1/{enc}/_tags/latest"), &del);
    assert_eq!(untag.status, 202, "{}", untag.text());
    assert_eq!(untag.header("x-ms-int-docker-content-digest"), image);
    assert_eq!(
        get(&emu, &format!("/v2/{repo}/manifests/latest"), &push).status,
        404
    );

    // DELETE repository: 202 with what went.
    let removed = delete(&format!("/acr/v1/{enc}"), &del);
    assert_eq!(removed.status, 202, "{}", removed.text());
    let removed = removed.json();
    assert_eq!(keys(&removed), set(&["manifestsDeleted", "tagsDeleted"]));
    assert_eq!(removed["tagsDeleted"], json!(["multi", "v1"]));
    assert_eq!(removed["manifestsDeleted"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&emu, &format!("/v2/{repo}/manifests/v1"), &push).status,
        404
    );
    let again = get(&emu, &format!("/acr/v1/{enc}"), &read);
    assert_error(&again, 404, "NAME_UNKNOWN");
}

/// Follows `Link` from `first` and returns each page's items under `key` (by `field`).
fn all_pages(
    emu: &AcrEmulator,
    first: &str,
    token: &str,
    key: &str,
    field: &str,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(path) = next.take() {
        let answer = get(emu, &path, token);
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        let items = answer.json()[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                if field.is_empty() {
                    i.as_str().unwrap().to_string()
                } else {
                    i[field].as_str().unwrap().to_string()
                }
            })
            .collect();
        pages.push(items);
        let link = answer.header("link");
        if !link.is_empty() {
            assert!(
                link.starts_with("</acr/v1/") && link.ends_with(">; rel=\"next\""),
                "{link}"
            );
            next = Some(link[1..link.find('>').unwrap()].to_string());
        }
        assert!(pages.len() < 20, "paging does not end");
    }
    pages
}

#[test]
fn listings_page_with_relative_links_in_every_order() {
    let emu = AcrEmulator::start().unwrap();
    let refresh = refresh_token(&emu, OWNER);
    let push = access_token(&emu, &refresh, "repository:team/app:pull,push");
    // Pushed in this order: c, a, e, b, d (so time order differs from name order).
    let mut digests = Vec::new();
    for tag in ["c", "a", "e", "b", "d"] {
        digests.push(push_image(&emu, "team/app", &push, tag, tag));
    }
    let read = access_token(&emu, &refresh, "repository:team/app:metadata_read");
    let first = get(&emu, "/acr/v1/team%2Fapp/_tags?n=2", &read);
    assert_eq!(
        first.header("link"),
        "</acr/v1/team%2Fapp/_tags?last=b&n=2&orderby=>; rel=\"next\""
    );
    let lexical = all_pages(&emu, "/acr/v1/team%2Fapp/_tags?n=2", &read, "tags", "name");
    assert_eq!(lexical, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
    let newest = all_pages(
        &emu,
        "/acr/v1/team%2Fapp/_tags?n=2&orderby=timedesc",
        &read,
        "tags",
        "name",
    );
    assert_eq!(newest, [vec!["d", "b"], vec!["e", "a"], vec!["c"]]);
    let oldest = all_pages(
        &emu,
        "/acr/v1/team%2Fapp/_tags?n=3&orderby=timeasc",
        &read,
        "tags",
        "name",
    );
    assert_eq!(oldest, [vec!["c", "a", "e"], vec!["b", "d"]]);
    let by_digest = all_pages(
        &emu,
        &format!(
            "/acr/v1/team%2Fapp/_tags?n=1&digest={}",
            percent_encode(&digests[2])
        ),
        &read,
        "tags",
        "name",
    );
    assert_eq!(by_digest, [vec!["e"]]);

    let manifests = get(
        &emu,
        "/acr/v1/team%2Fapp/_manifests?n=2&orderby=timedesc",
        &read,
    );
    let mut sorted = digests.clone();
    sorted.sort();
    let link = manifests.header("link");
    assert_eq!(
        link,
        format!(
            "</acr/v1/team%2Fapp/_manifests?last={}&n=2&orderby=timedesc>; rel=\"next\"",
            percent_encode(&digests[3])
        )
    );
    let newest: Vec<String> = all_pages(
        &emu,
        "/acr/v1/team%2Fapp/_manifests?n=2&orderby=timedesc",
        &read,
        "manifests",
        "digest",
    )
    .concat();
    let mut reversed = digests.clone();
    reversed.reverse();
    assert_eq!(newest, reversed);
    let plain = all_pages(
        &emu,
        "/acr/v1/team%2Fapp/_manifests?n=4",
        &read,
        "manifests",
        "digest",
    );
    assert_eq!(plain.concat(), sorted);
    assert_eq!(plain.len(), 2);

    // The catalog over three repositories, two per page.
    for repo in ["team/b", "team/c"] {
        let token = access_token(&emu, &refresh, &format!("repository:{repo}:pull,push"));
        push_image(&emu, repo, &token, "v1", repo);
    }
    let catalog = access_token(&emu, &refresh, "registry:catalog:*");
    let first = get(&emu, "/acr/v1/_catalog?n=2", &catalog);
    assert_eq!(
        first.header("link"),
        "</acr/v1/_catalog?last=team%2Fb&n=2&orderby=>; rel=\"next\""
    );
    let pages = all_pages(&emu, "/acr/v1/_catalog?n=2", &catalog, "repositories", "");
    assert_eq!(pages, [vec!["team/app", "team/b"], vec!["team/c"]]);
    let bad = get(&emu, "/acr/v1/_catalog?n=zero", &catalog);
    assert_eq!(bad.status, 400);
}

#[test]
fn locks_are_enforced_with_acr_errors() {
    let emu = AcrEmulator::start().unwrap();
    let refresh = refresh_token(&emu, OWNER);
    let all = access_token(
        &emu,
        &refresh,
        "repository:locked:pull,push,delete,metadata_read,metadata_write",
    );
    let v1 = push_image(&emu, "locked", &all, "v1", "one");
    let patch = |path: &str, body: &str| {
        let answer = send(
            Request::new(Method::Patch, emu.endpoint(path))
                .header("Authorization", bearer(&all))
                .header("Content-Type", "application/json")
                .with_body(Body::Bytes(body.as_bytes().to_vec())),
        );
        assert_eq!(answer.status, 200, "{}", answer.text());
    };
    let disallowed = |answer: &Answer| {
        let body = assert_error(answer, 405, "REGISTRY_DISALLOWED_OPERATION");
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("The operation is disallowed on this registry, repository or image."));
    };
    let delete = |path: &str| {
        send(Request::new(Method::Delete, emu.endpoint(path)).header("Authorization", bearer(&all)))
    };

    // writeEnabled=false: overwriting the tag is refused, and so is deleting it.
    patch("/acr/v1/locked/_tags/v1", r#"{"writeEnabled":false}"#);
    let other = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": serde_json::from_slice::<Value>(&get(&emu, "/v2/locked/manifests/v1", &all).body).unwrap()["config"],
        "layers": []});
    let overwrite = put_manifest(&emu, "locked", &all, "v1", OCI_MANIFEST, &other);
    disallowed(&overwrite);
    disallowed(&delete("/acr/v1/locked/_tags/v1"));
    assert_eq!(
        get(&emu, "/v2/locked/manifests/v1", &all).header("docker-content-digest"),
        v1
    );
    // Other tags can still be pushed.
    assert_eq!(
        put_manifest(&emu, "locked", &all, "v2", OCI_MANIFEST, &other).status,
        201
    );
    patch("/acr/v1/locked/_tags/v1", r#"{"writeEnabled":true}"#);
    assert_eq!(
        put_manifest(&emu, "locked", &all, "v1", OCI_MANIFEST, &other).status,
        201
    );

    // deleteEnabled=false: the tag and its manifest cannot be deleted, nor the repository.
    patch("/acr/v1/locked/_tags/v2", r#"{"deleteEnabled":false}"#);
    disallowed(&delete("/acr/v1/locked/_tags/v2"));
    let v2_digest = get(&emu, "/v2/locked/manifests/v2", &all)
        .header("docker-content-digest")
        .to_string();
    disallowed(&delete(&format!("/v2/locked/manifests/{v2_digest}")));
    disallowed(&delete("/acr/v1/locked"));
    patch("/acr/v1/locked/_tags/v2", r#"{"deleteEnabled":true}"#);
    assert_eq!(delete("/acr/v1/locked/_tags/v2").status, 202);

    // readEnabled=false: pulls are refused; listEnabled=false: hidden from listings.
    patch(
        &format!("/acr/v1/locked/_manifests/{v1}"),
        r#"{"readEnabled":false}"#,
    );
    disallowed(&get(&emu, &format!("/v2/locked/manifests/{v1}"), &all));
    patch(
        &format!("/acr/v1/locked/_manifests/{v1}"),
        r#"{"readEnabled":true,"listEnabled":false}"#,
    );
    assert_eq!(
        get(&emu, &format!("/v2/locked/manifests/{v1}"), &all).status,
        200
    );
    let manifests = get(&emu, "/acr/v1/locked/_manifests", &all).json();
    assert!(!manifests["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["digest"] == v1.as_str()));
    patch("/acr/v1/locked/_tags/v1", r#"{"listEnabled":false}"#);
    let tags = get(&emu, "/acr/v1/locked/_tags", &all).json();
    assert_eq!(tags["tags"], json!([]));
    let v2_tags = get(&emu, "/v2/locked/tags/list", &all);
    assert_eq!(v2_tags.status, 200, "{}", v2_tags.text());
    assert_eq!(v2_tags.json()["tags"], json!([]));
    // Still readable by name.
    assert_eq!(get(&emu, "/acr/v1/locked/_tags/v1", &all).status, 200);
    patch("/acr/v1/locked", r#"{"readEnabled":false}"#);
    disallowed(&get(&emu, "/v2/locked/manifests/v1", &all));
}

#[test]
fn cors_preflight_and_exposed_headers() {
    let emu = AcrEmulator::start().unwrap();
    for path in [
        "/acr/v1/_catalog",
        "/v2/app/blobs/uploads/",
        "/oauth2/token",
        "/oauth2/exchange",
    ] {
        // The core's Method has no OPTIONS (clients never send one; browsers do): raw HTTP.
        let mut stream = TcpStream::connect(emu.service()).unwrap();
        write!(
            stream,
            "OPTIONS {path} HTTP/1.1\r\nHost: {}\r\nOrigin: http://127.0.0.1:1\r\n\
             Access-Control-Request-Method: PATCH\r\n\
             Access-Control-Request-Headers: authorization,content-type\r\n\r\n",
            emu.service()
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let head = text.to_ascii_lowercase();
        assert!(text.starts_with("HTTP/1.1 204 "), "{path}: {text}");
        assert!(head.contains("access-control-allow-origin: *"), "{text}");
        assert!(
            head.contains("access-control-allow-methods: get, head, post, put, patch, delete"),
            "{text}"
        );
        assert!(
            head.contains("access-control-allow-headers: authorization, content-type"),
            "{text}"
        );
    }
    let token = owner_token(&emu, "repository:app:pull,push");
    let blob: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let descriptor = push_blob(&emu, "app", &token, "application/octet-stream", &blob);
    let path = format!("/v2/app/blobs/{}", descriptor["digest"].as_str().unwrap());
    let pulled = get(&emu, &path, &token);
    assert_eq!(pulled.status, 200);
    assert_eq!(pulled.body, blob, "a large blob streams through unchanged");
    // The blob came from the storage host (after a redirect), which exposes what a reader needs.
    assert_eq!(pulled.header("access-control-allow-origin"), "*");
    for name in ["Content-Length", "Content-Range", "Content-Type"] {
        let exposed = pulled.header("access-control-expose-headers");
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }
    let answer = send(Request::new(Method::Get, emu.endpoint("/acr/v1/_catalog")));
    assert_eq!(answer.header("access-control-allow-origin"), "*");
    let exposed = answer.header("access-control-expose-headers");
    for name in [
        "Docker-Content-Digest",
        "WWW-Authenticate",
        "Link",
        "Location",
        "Range",
        "Docker-Upload-UUID",
        "Content-Length",
        "Content-Type",
        "X-Ms-Correlation-Request-Id",
    ] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }
    assert!(!answer.header("x-ms-correlation-request-id").is_empty());
}

/// A `HEAD` the emulator refuses (401 without a token; 405 on a lock) is answered with one
/// `Content-Length` and no body, as ACR does: the rewritten 401 body used to follow the head,
/// with a second, different `Content-Length`, which browsers reject as a broken answer.
#[test]
fn refused_heads_have_no_body_and_one_length() {
    let emu = AcrEmulator::start().unwrap();
    let (status, headers, body) = unfollowed(&emu, "HEAD", "/v2/app/manifests/latest", "");
    assert_eq!(status, 401);
    assert_eq!(body, "", "a HEAD answer with a body");
    assert_eq!(headers.get_all("content-length").count(), 1, "{headers:?}");
}

/// One request over raw HTTP, redirects not followed: the status line and headers, lower-cased
/// names, and the body.
fn unfollowed(emu: &AcrEmulator, method: &str, path: &str, token: &str) -> (u16, Headers, String) {
    let mut stream = TcpStream::connect(emu.service()).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
        emu.service()
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

#[test]
fn blob_reads_redirect_to_signed_storage_on_another_origin() {
    let emu = AcrEmulator::start().unwrap();
    let token = owner_token(&emu, "repository:store:pull,push");
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let digest = push_blob(&emu, "store", &token, "application/octet-stream", &blob)["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v2/store/blobs/{digest}");

    // Reference section 7: 307 to the storage account, the digest beside it.
    let (status, headers, body) = unfollowed(&emu, "GET", &path, &token);
    assert_eq!(status, 307, "{body}");
    assert_eq!(headers.get("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(
        headers.get("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(body.starts_with("<a href=\""), "{body}");
    assert!(body.contains("Temporary Redirect</a>."), "{body}");
    let location = Url::parse(headers.get("location").unwrap()).unwrap();
    assert_ne!(
        location.authority(),
        emu.service(),
        "storage is another origin"
    );
    let hex = digest.trim_start_matches("sha256:");
    assert_eq!(
        location.path(),
        format!("/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2])
    );
    for name in ["se", "sig", "sp", "sr", "sv"] {
        assert!(
            location.query().unwrap_or("").contains(&format!("{name}=")),
            "{name} missing from {location}"
        );
    }
    let (status, headers, body) = unfollowed(&emu, "HEAD", &path, &token);
    assert_eq!((status, body.as_str()), (307, ""));
    assert!(headers.get("location").is_some());

    // Storage: the SAS is the credential; no Authorization, ranges as blob storage answers them.
    let whole = send(Request::new(Method::Get, location.clone()));
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, blob);
    assert_eq!(whole.header("server"), "Windows-Azure-Blob/1.0");
    assert_eq!(whole.header("x-ms-blob-type"), "AppendBlob");
    let part = send(Request::new(Method::Get, location.clone()).header("Range", "bytes=0-255"));
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        format!("bytes 0-255/{}", blob.len())
    );
    assert_eq!(part.body, &blob[..256]);
    let past_the_end = format!("bytes={}-", blob.len());
    let nothing_left =
        send(Request::new(Method::Get, location.clone()).header("Range", past_the_end));
    assert_eq!(nothing_left.status, 416);
    assert_eq!(
        nothing_left.header("content-range"),
        format!("bytes */{}", blob.len())
    );
    let head = send(Request::new(Method::Head, location.clone()));
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), blob.len().to_string());
    let with_credential =
        send(Request::new(Method::Get, location.clone()).header("Authorization", bearer(&token)));
    assert_eq!(with_credential.status, 400);
    assert_eq!(
        with_credential.header("x-ms-error-code"),
        "InvalidAuthenticationInfo"
    );
    let tampered = Url::parse(&location.to_string().replace("sig=", "sig=0")).unwrap();
    let refused = send(Request::new(Method::Get, tampered));
    assert_eq!(refused.status, 403);
    assert!(
        refused.text().contains("AuthenticationFailed"),
        "{}",
        refused.text()
    );

    // Only a read the registry allows is redirected: without a token, 401 from the login server.
    let anonymous = send(Request::new(Method::Get, emu.endpoint(&path)));
    assert_eq!(anonymous.status, 401);
    // A client that follows gets the bytes, the Authorization left behind on the other origin.
    let followed = get(&emu, &path, &token);
    assert_eq!((followed.status, followed.body.len()), (200, blob.len()));
}

#[test]
fn everything_stops_on_drop() {
    let emu = AcrEmulator::start().unwrap();
    let pid = emu.registry().pid();
    let data = emu.registry().data_dir();
    let url = emu.endpoint("/v2/");
    assert!(process_alive(pid));
    drop(emu);
    assert!(!process_alive(pid), "registry {pid} still running");
    assert!(!data.exists(), "registry storage left behind");
    assert!(NativeTransport::new()
        .send_blocking(Request::new(Method::Get, url as Url))
        .is_err());
}
