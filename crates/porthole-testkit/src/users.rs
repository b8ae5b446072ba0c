//! Test users and what they may do, in the registry's own terms (resource type, name, actions).

use serde_json::{json, Value};

/// The default full-access user.
pub const ALICE: &str = "alice";
/// Alice's password.
pub const ALICE_PASSWORD: &str = "alice-secret";
/// The default pull-only user.
pub const READER: &str = "reader";
/// Reader's password.
pub const READER_PASSWORD: &str = "reader-secret";

/// Permission to do `actions` on resources of one type whose name matches a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The resource type of the scope: `repository` or `registry`.
    pub resource_type: String,
    /// `*` (any name), `prefix/*` (names under `prefix/`), or an exact name.
    pub name: String,
    /// Actions allowed (`pull`, `push`, `delete`, or `*` for all of them).
    pub actions: Vec<String>,
}

impl Grant {
    /// Actions on repositories whose name matches `pattern` (see [`Grant::name`]).
    pub fn repositories(pattern: &str, actions: &[&str]) -> Self {
        Self {
            resource_type: "repository".into(),
            name: pattern.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The registry catalog (`registry:catalog:*`).
    pub fn catalog() -> Self {
        Self {
            resource_type: "registry".into(),
            name: "catalog".into(),
            actions: vec!["*".into()],
        }
    }

    /// Whether this grant allows `action` on the resource `resource_type:name`.
    pub fn allows(&self, resource_type: &str, name: &str, action: &str) -> bool {
        self.resource_type == resource_type
            && self.matches_name(name)
            && self.actions.iter().any(|a| a == "*" || a == action)
    }

    fn matches_name(&self, name: &str) -> bool {
        match self.name.strip_suffix('*') {
            Some("") => true,
            Some(prefix) => name.starts_with(prefix),
            None => self.name == name,
        }
    }

    /// The grant in scope syntax, e.g. `repository:*:pull,push`.
    pub fn to_scope(&self) -> String {
        format!(
            "{}:{}:{}",
            self.resource_type,
            self.name,
            self.actions.join(",")
        )
    }
}

/// A user of the basic-auth and token-auth registries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub name: String,
    /// The password (a test secret: printed by `serve`, never a real credential).
    pub password: String,
    /// What the token server grants this user. The htpasswd registry cannot restrict anyone:
    /// there every user with the right password may do everything.
    pub grants: Vec<Grant>,
}

impl User {
    /// A user with no grants yet.
    pub fn new(name: &str, password: &str) -> Self {
        Self {
            name: name.into(),
            password: password.into(),
            grants: Vec::new(),
        }
    }

    /// Adds a grant, builder style.
    pub fn grant(mut self, grant: Grant) -> Self {
        self.grants.push(grant);
        self
    }

    /// Pull, push and delete on every repository, and the catalog.
    pub fn full_access(name: &str, password: &str) -> Self {
        Self::new(name, password)
            .grant(Grant::repositories("*", &["pull", "push", "delete"]))
            .grant(Grant::catalog())
    }

    /// Pull on every repository, nothing else.
    pub fn pull_only(name: &str, password: &str) -> Self {
        Self::new(name, password).grant(Grant::repositories("*", &["pull"]))
    }

    /// The user as `serve` prints it: `{"password": ..., "scopes": [...]}`.
    pub fn to_json(&self) -> Value {
        let scopes: Vec<String> = self.grants.iter().map(Grant::to_scope).collect();
        json!({ "password": self.password, "scopes": scopes })
    }
}

/// `alice` (full access, password [`ALICE_PASSWORD`]) and `reader` (pull only, password
/// [`READER_PASSWORD`]).
pub fn default_users() -> Vec<User> {
    vec![
        User::full_access(ALICE, ALICE_PASSWORD),
        User::pull_only(READER, READER_PASSWORD),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_match_names_and_actions() {
        let g = Grant::repositories("team/*", &["pull"]);
        assert!(g.allows("repository", "team/app", "pull"));
        assert!(!g.allows("repository", "team/app", "push"));
        assert!(!g.allows("repository", "other/app", "pull"));
        assert!(!g.allows("registry", "team/app", "pull"));
        assert!(Grant::catalog().allows("registry", "catalog", "*"));
        assert!(Grant::repositories("app", &["*"]).allows("repository", "app", "delete"));
        assert!(!Grant::repositories("app", &["*"]).allows("repository", "app2", "pull"));
    }
}
