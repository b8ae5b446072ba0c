//! The app: providers, the router with a deep link per page, the header, theme and keyboard.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use wasm_bindgen::JsCast;

use crate::routes::{
    connect::ConnectPage, manifest::ManifestPage, repo::RepoPage, repos::ReposPage,
};
use crate::state::RegistryContext;

const THEME_KEY: &str = "porthole.theme";

/// The theme choice: follow the system, or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Theme {
    System,
    Light,
    Dark,
}

impl Theme {
    fn load() -> Self {
        match window()
            .local_storage()
            .ok()
            .flatten()
            .and_then(|s| s.get_item(THEME_KEY).ok().flatten())
            .as_deref()
        {
            Some("light") => Self::Light,
            Some("dark") => Self::Dark,
            _ => Self::System,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }

    fn next(self) -> Self {
        match self {
            Self::System => Self::Light,
            Self::Light => Self::Dark,
            Self::Dark => Self::System,
        }
    }

    fn apply(self) {
        if let Some(root) = document().document_element() {
            match self {
                Self::System => {
                    let _ = root.remove_attribute("data-theme");
                }
                _ => {
                    let _ = root.set_attribute("data-theme", self.name());
                }
            }
        }
        if let Some(storage) = window().local_storage().ok().flatten() {
            let _ = storage.set_item(THEME_KEY, self.name());
        }
    }
}

/// The whole app.
#[component]
pub(crate) fn App() -> impl IntoView {
    provide_context(RegistryContext::new());
    // Before the router registers its own `popstate` listener.
    crate::util::guard_history_traversal();
    view! {
        <Router>
            <Shell />
        </Router>
    }
}

fn in_text_field(event: &web_sys::KeyboardEvent) -> bool {
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.has_attribute("contenteditable")
        })
}

/// Moves the focus to the next (`step` 1) or previous (-1) row link of the page.
fn move_row_focus(step: i32) {
    let Ok(rows) = document().query_selector_all("[data-row]") else {
        return;
    };
    let len = rows.length() as i32;
    if len == 0 {
        return;
    }
    let active = document().active_element();
    let mut current = -1;
    for i in 0..len {
        if let (Some(node), Some(active)) = (rows.item(i as u32), active.as_ref()) {
            if node.is_same_node(Some(active)) {
                current = i;
            }
        }
    }
    let next = (current + step).clamp(0, len - 1);
    if let Some(el) = rows
        .item(next as u32)
        .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}

/// Header, main area and keyboard shortcuts around the routes.
#[component]
fn Shell() -> impl IntoView {
    let theme = RwSignal::new(Theme::load());
    Effect::new(move |_| theme.get().apply());
    let help = RwSignal::new(false);
    let ctx = RegistryContext::expect_context();

    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        if in_text_field(&ev) {
            if ev.key() == "Escape" {
                if let Some(el) = ev
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
                {
                    let _ = el.blur();
                }
            }
            return;
        }
        match ev.key().as_str() {
            "/" => {
                if let Some(el) = document()
                    .get_element_by_id("filter")
                    .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                {
                    ev.prevent_default();
                    let _ = el.focus();
                }
            }
            "j" => move_row_focus(1),
            "k" => move_row_focus(-1),
            // A click on the link itself, so that what guards links (a page with uploads
            // running asks first) guards the shortcut too.
            "u" => {
                if let Some(up) = document()
                    .query_selector("[data-up]")
                    .ok()
                    .flatten()
                    .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                {
                    up.click();
                }
            }
            "t" => theme.update(|t| *t = t.next()),
            "?" => help.update(|h| *h = !*h),
            "Escape" => help.set(false),
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());

    let current = move || {
        ctx.conn.with(|c| {
            c.as_ref()
                .map(|c| (c.saved.id.clone(), c.saved.label.clone()))
        })
    };

    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        // Present from the start and never replaced: screen readers announce changes to a
        // live region they already know, and may skip one inserted with its text.
        <div id="announcer" class="sr-only" role="status" aria-live="polite" aria-atomic="true"></div>
        <header class="top">
            <a class="brand" href="/" aria-label="Porthole: registries">
                <span class="logo" aria-hidden="true">"◉"</span>
                "Porthole"
            </a>
            <nav class="current" aria-label="Registry">
                {move || {
                    current()
                        .map(|(id, label)| {
                            view! {
                                <a href=format!("/r/{id}") class="reg-name" title="Repositories of this registry">
                                    {label}
                                </a>
                            }
                        })
                }}
            </nav>
            <div class="top-actions">
                <button
                    class="btn icon"
                    type="button"
                    aria-label=move || format!("Theme: {} (press t to change)", theme.get().name())
                    title=move || format!("Theme: {}", theme.get().name())
                    on:click=move |_| theme.update(|t| *t = t.next())
                >
                    {move || match theme.get() {
                        Theme::System => "◐",
                        Theme::Light => "☀",
                        Theme::Dark => "☾",
                    }}
                </button>
                <button
                    class="btn icon"
                    type="button"
                    aria-label="Keyboard shortcuts"
                    aria-expanded=move || help.get().to_string()
                    on:click=move |_| help.update(|h| *h = !*h)
                >
                    "?"
                </button>
            </div>
        </header>
        <Show when=move || help.get()>
            <aside class="help" aria-label="Keyboard shortcuts">
                <ul>
                    <li><kbd>"/"</kbd>" filter"</li>
                    <li><kbd>"j"</kbd>" / "<kbd>"k"</kbd>" next / previous row"</li>
                    <li><kbd>"Enter"</kbd>" open"</li>
                    <li><kbd>"u"</kbd>" up one level"</li>
                    <li><kbd>"t"</kbd>" theme"</li>
                    <li><kbd>"Esc"</kbd>" leave a field, close this"</li>
                </ul>
            </aside>
        </Show>
        <main id="main" tabindex="-1">
            <Routes fallback=|| view! { <p class="empty">"No such page. " <a href="/">"Go to the registries"</a></p> }>
                <Route path=path!("/") view=ConnectPage />
                <Route path=path!("/r/:reg") view=ReposPage />
                <Route path=path!("/r/:reg/repo/*name") view=RepoPage />
                <Route path=path!("/r/:reg/manifest/*reference") view=ManifestPage />
            </Routes>
        </main>
    }
}
