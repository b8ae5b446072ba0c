//! The CORS headers the kit's registries and fronts send, in one place so the registry config
//! and the nginx front cannot drift apart.

/// `Access-Control-Allow-Methods`: everything the Distribution API uses.
pub const ALLOW_METHODS: &str = "HEAD, GET, OPTIONS, POST, PUT, PATCH, DELETE";

/// `Access-Control-Allow-Headers`: the request headers a client sets itself.
pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Content-Length, Content-Range, Accept, Range, Docker-Content-Digest";

/// `Access-Control-Expose-Headers`: the response headers a client must read. Without this list
/// the browser hides them from a cross-origin page.
pub const EXPOSE_HEADERS: &str = "Docker-Content-Digest, Docker-Upload-UUID, \
    Docker-Distribution-Api-Version, Location, Range, Link, WWW-Authenticate, \
    OCI-Chunk-Min-Length, Content-Range, Retry-After, Content-Length, Content-Type, ETag";

/// `Access-Control-Max-Age` in seconds.
pub const MAX_AGE: &str = "600";
