//! Raw JSON, re-indented and highlighted in the order the registry sent it. Every piece is a
//! text node (never HTML), and very long documents show their first lines highlighted and the
//! rest as one plain text node on request, so megabytes of JSON cannot freeze the page.

use leptos::prelude::*;

/// Lines shown highlighted before the rest is offered as plain text.
const HIGHLIGHTED_LINES: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Key,
    Str,
    Num,
    Lit,
    Punct,
    Space,
}

impl Tok {
    fn class(self) -> &'static str {
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

type Line = Vec<(Tok, String)>;

/// Re-indents JSON text (two spaces) into tokenized lines, keeping key order and the exact
/// text of strings and numbers. Invalid JSON still comes out, token by token.
fn tokenize(text: &str) -> Vec<Line> {
    let mut lines: Vec<Line> = vec![Vec::new()];
    let mut stack: Vec<u8> = Vec::new();
    let mut expect_key = false;
    let mut indent = 0usize;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
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
                let line = lines.last_mut().expect("there is always a line");
                if chars.get(j) == Some(&close) {
                    line.push((Tok::Punct, format!("{c}{close}")));
                    i = j + 1;
                    expect_key = false;
                    continue;
                }
                line.push((Tok::Punct, c.to_string()));
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
                lines
                    .last_mut()
                    .expect("there is always a line")
                    .push((Tok::Punct, c.to_string()));
                expect_key = false;
                i += 1;
            }
            ',' => {
                lines
                    .last_mut()
                    .expect("there is always a line")
                    .push((Tok::Punct, ",".into()));
                expect_key = stack.last() == Some(&b'{');
                newline(&mut lines, indent);
                i += 1;
            }
            ':' => {
                lines
                    .last_mut()
                    .expect("there is always a line")
                    .push((Tok::Punct, ": ".into()));
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
                lines
                    .last_mut()
                    .expect("there is always a line")
                    .push((kind, s));
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
                lines
                    .last_mut()
                    .expect("there is always a line")
                    .push((kind, s));
            }
        }
    }
    lines
}

fn line_text(line: &Line) -> String {
    line.iter().map(|(_, s)| s.as_str()).collect()
}

/// Raw JSON, pretty-printed and highlighted.
#[component]
pub(crate) fn JsonView(
    /// The JSON text exactly as received.
    text: String,
    /// What it is, for screen readers ("manifest JSON").
    #[prop(into)]
    label: String,
) -> impl IntoView {
    let lines = tokenize(&text);
    let total = lines.len();
    let show_rest = RwSignal::new(false);
    let (head, rest) = if total > HIGHLIGHTED_LINES {
        let mut head = lines;
        let rest = head.split_off(HIGHLIGHTED_LINES);
        (head, rest)
    } else {
        (lines, Vec::new())
    };
    let rest_count = rest.len();
    let rest_text = StoredValue::new(rest.iter().map(line_text).collect::<Vec<_>>().join("\n"));
    let head_view = head
        .into_iter()
        .map(|line| {
            let spans = line
                .into_iter()
                .map(|(tok, s)| match tok {
                    Tok::Space => view! { <span>{s}</span> }.into_any(),
                    _ => view! { <span class=tok.class()>{s}</span> }.into_any(),
                })
                .collect_view();
            view! { <div class="j-line">{spans}</div> }
        })
        .collect_view();
    view! {
        <div class="json-wrap">
            <p class="muted small">
                {format!("{total} lines, {} bytes", text.len())}
            </p>
            <pre class="json" tabindex="0" aria-label=label>
                <code>{head_view}</code>
                <Show when=move || show_rest.get()>
                    <code class="j-rest">{rest_text.get_value()}</code>
                </Show>
            </pre>
            <Show when=move || { rest_count > 0 && !show_rest.get() }>
                <button class="btn" on:click=move |_| show_rest.set(true)>
                    {format!("Show the remaining {rest_count} lines (plain text)")}
                </button>
            </Show>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
