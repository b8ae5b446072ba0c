//! Raw JSON, re-indented and highlighted in the order the registry sent it. Every piece is a
//! text node (never HTML), and very long documents show their first lines highlighted and the
//! rest as one plain text node on request, so megabytes of JSON cannot freeze the page.

use leptos::prelude::*;

use crate::pure::{line_text, tokenize, Tok};

/// Lines shown highlighted before the rest is offered as plain text.
const HIGHLIGHTED_LINES: usize = 2_000;

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
