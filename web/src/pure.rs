//! The dashboard's pure helpers (no browser, no Leptos): compiled on every target, so the
//! native `cargo test` runs their tests.

use std::cmp::Ordering;

/// Compares names so that `build-9` comes before `build-10`.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (da, db) = (trim_zeros(&a[..na]), trim_zeros(&b[..nb]));
                let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                let ord = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros.min(digits.len().saturating_sub(1))..]
}

/// How many of `groups` (in order) to draw: at most `max_groups`, and no more than make their
/// first rows (each group's first `first_rows`) pass `max_rows`; always at least one.
pub(crate) fn groups_to_draw(
    groups: &[(String, Vec<String>)],
    first_rows: usize,
    max_groups: usize,
    max_rows: usize,
) -> usize {
    let mut rows = 0;
    for (drawn, (_, list)) in groups.iter().enumerate() {
        rows += list.len().min(first_rows);
        if drawn > 0 && (drawn >= max_groups || rows > max_rows) {
            return drawn;
        }
    }
    groups.len()
}

/// The kind of a JSON token, for highlighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Key,
    Str,
    Num,
    Lit,
    Punct,
    Space,
}

impl Tok {
    pub(crate) fn class(self) -> &'static str {
        match self {
            Self::Key => "j-key",
            Self::Str => "j-str",
            Self::Num => "j-num",
            Self::Lit => "j-lit",
            Self::Punct => "j-p",
            Self::Space => "",
        }
    }
}

pub(crate) type Line = Vec<(Tok, String)>;

/// Re-indents JSON text (two spaces) into tokenized lines, keeping key order and the exact
/// text of strings and numbers. Invalid JSON still comes out, token by token.
pub(crate) fn tokenize(text: &str) -> Vec<Line> {
    let mut lines: Vec<Line> = vec![Vec::new()];
    let mut stack: Vec<u8> = Vec::new();
    let mut expect_key = false;
    let mut indent = 0usize;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let push = |lines: &mut Vec<Line>, tok: Tok, text: String| {
        lines
            .last_mut()
            .expect("there is always a line")
            .push((tok, text));
    };
    let newline = |lines: &mut Vec<Line>, indent: usize| {
        let mut line = Vec::new();
        if indent > 0 {
            line.push((Tok::Space, "  ".repeat(indent)));
        }
        lines.push(line);
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\r' | '\n' => i += 1,
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if chars.get(j) == Some(&close) {
                    push(&mut lines, Tok::Punct, format!("{c}{close}"));
                    i = j + 1;
                    expect_key = false;
                    continue;
                }
                push(&mut lines, Tok::Punct, c.to_string());
                stack.push(c as u8);
                expect_key = c == '{';
                indent += 1;
                newline(&mut lines, indent);
                i += 1;
            }
            '}' | ']' => {
                stack.pop();
                indent = indent.saturating_sub(1);
                newline(&mut lines, indent);
                push(&mut lines, Tok::Punct, c.to_string());
                expect_key = false;
                i += 1;
            }
            ',' => {
                push(&mut lines, Tok::Punct, ",".into());
                expect_key = stack.last() == Some(&b'{');
                newline(&mut lines, indent);
                i += 1;
            }
            ':' => {
                push(&mut lines, Tok::Punct, ": ".into());
                i += 1;
            }
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(chars.len());
                let s: String = chars[start..i].iter().collect();
                let kind = if expect_key { Tok::Key } else { Tok::Str };
                expect_key = false;
                push(&mut lines, kind, s);
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !matches!(chars[i], ',' | ':' | ']' | '}' | ' ' | '\t' | '\r' | '\n')
                {
                    i += 1;
                }
                let s: String = chars[start..i.max(start + 1)].iter().collect();
                i = i.max(start + 1);
                let kind = if c == '-' || c.is_ascii_digit() {
                    Tok::Num
                } else {
                    Tok::Lit
                };
                push(&mut lines, kind, s);
            }
        }
    }
    lines
}

pub(crate) fn line_text(line: &Line) -> String {
    line.iter().map(|(_, s)| s.as_str()).collect()
}

/// The short form of a digest: `sha256:0123456789ab`. Cut by characters, not bytes: the text
/// may come unchecked from a registry (an ACR listing, an annotation) or from a link.
pub(crate) fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", hex.chars().take(12).collect::<String>()),
        None => digest.chars().take(19).collect(),
    }
}

/// The HTML id of a namespace's heading: letters and digits kept, every other character
/// written as `_` and its code in hex, so that `a.b` and `a-b` get different ids.
pub(crate) fn namespace_id(namespace: &str) -> String {
    let mut id = String::from("ns-");
    for c in namespace.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else {
            id.push_str(&format!("_{:x}", u32::from(c)));
        }
    }
    id
}

/// Puts `name` first in a most-recent-first list, once, keeping at most `cap` names.
pub(crate) fn push_recent(list: &mut Vec<String>, name: &str, cap: usize) {
    list.retain(|n| n != name);
    list.insert(0, name.to_owned());
    list.truncate(cap);
}

/// What "open by name" opens for `typed`: a repository, and the tag or digest when one is given
/// (`team/app`, `team/app:v1`, `team/app@sha256:…`, with or without one of this registry's
/// `hosts` in front, as a pull command has it: its pull address first, then the address the
/// page reaches it at); or why it names nothing on this registry.
pub(crate) fn open_target(
    hosts: &[String],
    typed: &str,
) -> Result<(String, Option<String>), String> {
    let typed = typed.trim().trim_end_matches('/');
    if typed.is_empty() {
        return Err("Type a repository name, such as team/app.".into());
    }
    let reference = porthole_core::Reference::parse(typed).map_err(|e| e.to_string())?;
    if let Some(other) = reference.registry.as_deref() {
        if !hosts.iter().any(|h| other.eq_ignore_ascii_case(h)) {
            let host = hosts.first().map_or("", String::as_str);
            return Err(format!(
                "{typed:?} names the registry {other}, and this is {host}: type the name without \
                 the host, or connect to {other} first."
            ));
        }
    }
    let pinned = match (&reference.digest, &reference.tag) {
        (Some(digest), _) => Some(digest.as_str().to_owned()),
        (None, Some(tag)) => Some(tag.as_str().to_owned()),
        (None, None) => None,
    };
    Ok((reference.repository.as_str().to_owned(), pinned))
}

/// Where to go back to after the connect form, from its `next=`: only a page of the registry
/// just connected (`home` is its `/r/<id>`), so a link cannot send the user anywhere else.
pub(crate) fn return_path(next: &str, home: &str) -> Option<String> {
    let inside = next == home
        || next
            .strip_prefix(home)
            .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'));
    (inside && !next.contains("//") && !next.contains('\\')).then(|| next.to_owned())
}

/// Whether `authority` (`host[:port]`) is a loopback host, which browsers let an https page
/// call over plain http (it is "potentially trustworthy"), so no mixed content.
pub(crate) fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    }
    .to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "::1"
        || host.starts_with("127.")
            && host.split('.').count() == 4
            && host.split('.').all(|part| part.parse::<u8>().is_ok())
}

/// Dates before this (1980-01-02T00:00:00Z, in milliseconds) are taken for placeholders, not
/// build dates: reproducible builds stamp 1970 or year 1 (ko, Bazel, Nix) or 1980-01-01
/// (Buildpacks), so every image of such a repository has the same date.
pub(crate) const PLACEHOLDER_DATE_BEFORE_MS: f64 = 315_619_200_000.0;

/// "Keep the newest N" split by date: what goes and what stays.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct NewestSplit {
    /// The older tags, to delete.
    pub(crate) drop: Vec<String>,
    /// The newest N, and every tag dated the same as the Nth (ties are kept, not drawn).
    pub(crate) keep: Vec<String>,
    /// Those of `keep` beyond N: they share the Nth newest's date.
    pub(crate) tied: Vec<String>,
    /// Tags with no date, or a placeholder date: kept, since nothing says they are old.
    pub(crate) undated: Vec<String>,
}

/// Splits `tags` (each with its date in milliseconds, if known) to keep the newest `n`. Which
/// of several tags with the same date is newer cannot be told, so a tie at the Nth place keeps
/// them all rather than dropping some by name.
pub(crate) fn split_newest(tags: Vec<(String, Option<f64>)>, n: usize) -> NewestSplit {
    let mut split = NewestSplit::default();
    let mut dated = Vec::with_capacity(tags.len());
    for (tag, date) in tags {
        match date.filter(|d| *d >= PLACEHOLDER_DATE_BEFORE_MS) {
            Some(date) => dated.push((date, tag)),
            None => split.undated.push(tag),
        }
    }
    dated.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| natural_cmp(&a.1, &b.1)));
    split.undated.sort_by(|a, b| natural_cmp(a, b));
    let boundary = n.checked_sub(1).and_then(|i| dated.get(i)).map(|(d, _)| *d);
    for (i, (date, tag)) in dated.into_iter().enumerate() {
        if i < n {
            split.keep.push(tag);
        } else if Some(date) == boundary {
            split.tied.push(tag.clone());
            split.keep.push(tag);
        } else {
            split.drop.push(tag);
        }
    }
    split
}

/// What a referrer is, from its artifact type: `signature`, `SBOM`, `attestation` or
/// `artifact`. The type's words are compared whole (`sig`, not any word holding those letters,
/// which made `application/vnd.example.design+json` a signature).
pub(crate) fn artifact_kind(artifact_type: &str) -> &'static str {
    let lower = artifact_type.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(['/', '.', '+', ';', '=']).collect();
    let has = |names: &[&str]| words.iter().any(|w| names.contains(w));
    if has(&[
        "sig",
        "signature",
        "notary",
        "cosign",
        "sigstore",
        "simplesigning",
    ]) {
        "signature"
    } else if has(&["spdx", "cyclonedx", "sbom", "syft"]) {
        "SBOM"
    } else if has(&["in-toto", "intoto", "attestation", "provenance", "slsa"]) {
        "attestation"
    } else {
        "artifact"
    }
}

/// A key for a group of names that changes whenever any name in it does: a keyed list keeps a
/// row's child while its key stays, so a key of the length and first name alone showed a stale
/// group after a filter swapped a name in its middle.
pub(crate) fn contents_key(names: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    names.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_digests_cut_by_characters() {
        let digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        assert_eq!(short_digest(digest), "sha256:44136fa355b3");
        assert_eq!(
            short_digest("x:a\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"),
            "x:a\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"
        );
        assert_eq!(short_digest("sha256:\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"), format!("sha256:{}", "\u{e9}".repeat(12)));
        assert_eq!(
            short_digest(
                "no-colon-\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"
            ),
            "no-colon-\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"
        );
    }

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("build-9", "build-10"), Ordering::Less);
        assert_eq!(natural_cmp("build-0010", "build-9"), Ordering::Greater);
        assert_eq!(natural_cmp("a", "B"), Ordering::Less);
    }

    #[test]
    fn draws_groups_up_to_either_limit() {
        let group = |n: usize| (format!("ns{n}"), vec![String::new(); n]);
        let small: Vec<_> = (0..1_000).map(|_| group(1)).collect();
        assert_eq!(groups_to_draw(&small, 100, 200, 2_000), 200);
        assert_eq!(groups_to_draw(&small, 100, 400, 4_000), 400);
        let big: Vec<_> = (0..30).map(|_| group(500)).collect();
        // 20 groups draw 100 rows each: 2,000 rows, not more.
        assert_eq!(groups_to_draw(&big, 100, 200, 2_000), 20);
        assert_eq!(groups_to_draw(&big[..5], 100, 200, 2_000), 5);
        // A first group bigger than the budget is still drawn.
        assert_eq!(groups_to_draw(&big, 100, 200, 50), 1);
        assert_eq!(groups_to_draw(&[], 100, 200, 2_000), 0);
    }
    #[test]
    fn keeps_order_and_indents() {
        let lines = tokenize(r#"{"z":1,"a":[true,"x"],"e":{}}"#);
        let text: Vec<String> = lines.iter().map(line_text).collect();
        assert_eq!(
            text,
            [
                "{",
                "  \"z\": 1,",
                "  \"a\": [",
                "    true,",
                "    \"x\"",
                "  ],",
                "  \"e\": {}",
                "}"
            ]
        );
        assert_eq!(lines[1][1], (Tok::Key, "\"z\"".into()));
    }

    #[test]
    fn namespaces_differing_only_in_punctuation_get_different_ids() {
        assert_eq!(namespace_id("team-a"), "ns-team_2da");
        assert_ne!(namespace_id("a.b"), namespace_id("a-b"));
        assert_ne!(namespace_id("a_b"), namespace_id("a-b"));
        assert_eq!(namespace_id(""), "ns-");
    }

    #[test]
    fn recent_names_move_to_the_front_once() {
        let mut list = Vec::new();
        for name in ["a", "b", "c", "a"] {
            push_recent(&mut list, name, 3);
        }
        assert_eq!(list, ["a", "c", "b"]);
        push_recent(&mut list, "d", 3);
        assert_eq!(list, ["d", "a", "c"]);
    }

    #[test]
    fn open_by_name_reads_names_references_and_this_host() {
        let hosts = ["reg.example:5000".to_owned(), "proxy.example".to_owned()];
        let open = |typed: &str| open_target(&hosts, typed);
        // The address the page reaches the registry at is accepted too.
        assert_eq!(
            open("proxy.example/team/app:v2"),
            Ok(("team/app".into(), Some("v2".into())))
        );
        assert_eq!(open(" team/app/ "), Ok(("team/app".into(), None)));
        assert_eq!(open("app:v1"), Ok(("app".into(), Some("v1".into()))));
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            open(&format!("reg.example:5000/team/app@{digest}")),
            Ok(("team/app".into(), Some(digest)))
        );
        let elsewhere = open("docker.io/library/nginx").unwrap_err();
        assert!(
            elsewhere.contains("names the registry docker.io"),
            "{elsewhere}"
        );
        assert!(
            elsewhere.contains("this is reg.example:5000"),
            "{elsewhere}"
        );
        assert!(open("").unwrap_err().contains("Type a repository name"));
        let upper = open("Team/App").unwrap_err();
        assert!(upper.contains("lowercase"), "{upper}");
    }

    #[test]
    fn returns_only_to_pages_of_the_registry_connected() {
        let home = "/r/reg-1";
        for good in ["/r/reg-1", "/r/reg-1/repo/team/app", "/r/reg-1?q=app"] {
            assert_eq!(return_path(good, home).as_deref(), Some(good));
        }
        for bad in [
            "/r/reg-10/repo/app",
            "/r/other",
            "https://evil.example/r/reg-1",
            "//evil.example/r/reg-1",
            "/r/reg-1//evil.example",
            "/r/reg-1/\\evil.example",
            "",
        ] {
            assert_eq!(return_path(bad, home), None, "{bad}");
        }
    }

    #[test]
    fn loopback_hosts_are_told_apart() {
        for host in [
            "localhost:5000",
            "LOCALHOST",
            "reg.localhost:80",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "registry.test:5000",
            "127.example.com",
            "127.a.b.c",
            "10.0.0.1:5000",
            "[::2]:5000",
            "localhost.example",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn keeping_the_newest_keeps_ties_and_placeholder_dates() {
        let day = 86_400_000.0;
        let base = 1_700_000_000_000.0;
        let tag = |name: &str, date: Option<f64>| (name.to_string(), date);
        let split = split_newest(
            vec![
                tag("v1", Some(base)),
                tag("v2", Some(base + day)),
                tag("v3", Some(base + 2.0 * day)),
                tag("v4", Some(base + 3.0 * day)),
                tag("notes", None),
            ],
            2,
        );
        assert_eq!(split.keep, ["v4", "v3"]);
        assert_eq!(split.drop, ["v2", "v1"]);
        assert!(split.tied.is_empty());
        assert_eq!(split.undated, ["notes"]);

        // Reproducible builds: every image dated 1980-01-01 (or 1970): none is older.
        let stamped = 315_532_801_000.0;
        let split = split_newest(
            vec![tag("1.0.0", Some(stamped)), tag("1.0.10", Some(0.0))],
            1,
        );
        assert!(split.drop.is_empty() && split.keep.is_empty());
        assert_eq!(split.undated, ["1.0.0", "1.0.10"]);

        // A tie at the Nth place keeps every tag of that date.
        let split = split_newest(
            vec![
                tag("a", Some(base + day)),
                tag("b", Some(base)),
                tag("c", Some(base)),
                tag("d", Some(base - day)),
            ],
            2,
        );
        assert_eq!(split.keep, ["a", "b", "c"]);
        assert_eq!(split.tied, ["c"]);
        assert_eq!(split.drop, ["d"]);
        // Keep none: every dated tag goes, ties or not.
        let split = split_newest(vec![tag("a", Some(base)), tag("b", Some(base))], 0);
        assert_eq!(split.drop, ["a", "b"]);
    }

    #[test]
    fn a_group_whose_middle_changed_has_another_key() {
        let before = ["apps/api-v1", "apps/web-v1"].map(String::from);
        let after = ["apps/api-v1", "apps/api-v2"].map(String::from);
        assert_ne!(contents_key(&before), contents_key(&after));
        assert_eq!(contents_key(&before), contents_key(&before.clone()));
    }

    #[test]
    fn referrers_are_told_apart_by_whole_words_of_their_type() {
        for (artifact_type, kind) in [
            ("application/vnd.cncf.notary.signature", "signature"),
            (
                "application/vnd.dev.cosign.artifact.sig.v1+json",
                "signature",
            ),
            ("application/vnd.dev.sigstore.bundle.v0.3+json", "signature"),
            ("application/spdx+json", "SBOM"),
            ("application/vnd.cyclonedx+json", "SBOM"),
            ("application/vnd.example.sbom", "SBOM"),
            ("application/vnd.in-toto+json", "attestation"),
            ("application/vnd.example.design+json", "artifact"),
            ("application/vnd.example.assignment", "artifact"),
        ] {
            assert_eq!(artifact_kind(artifact_type), kind, "{artifact_type}");
        }
    }
}
