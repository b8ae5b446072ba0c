//! Small helpers: sizes, dates, natural sort, clipboard, verified downloads to a file.

use porthole_browser::FetchTransport;
use porthole_core::{Digest, Repository};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Says `text` to screen readers through the page's one live region (`#announcer`), which is
/// in the page from the start: a status inserted with its text is not announced by every
/// screen reader. The same text twice in a row is announced twice.
pub(crate) fn announce(text: &str) {
    let Some(region) = leptos::prelude::document().get_element_by_id("announcer") else {
        return;
    };
    region.set_text_content(None);
    let text = text.to_owned();
    // A moment later, so that a repeat of the last text is a change too.
    leptos::prelude::set_timeout(
        move || region.set_text_content(Some(&text)),
        std::time::Duration::from_millis(50),
    );
}

/// `1.2 MiB`-style sizes.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Milliseconds since the epoch of an RFC 3339 date, for sorting.
pub(crate) fn date_millis(date: &str) -> Option<f64> {
    let ms = js_sys::Date::parse(date);
    (!ms.is_nan()).then_some(ms)
}

/// `2024-03-01 01:00 UTC` from an RFC 3339 date; the text itself when it does not parse.
pub(crate) fn short_date(date: &str) -> String {
    match date_millis(date) {
        Some(ms) => {
            let d = js_sys::Date::new(&JsValue::from_f64(ms));
            let iso: String = d.to_iso_string().into();
            format!("{} {} UTC", &iso[..10], &iso[11..16])
        }
        None => date.chars().take(40).collect(),
    }
}

/// Changes the address shown (and kept in history) without a navigation.
pub(crate) fn replace_address(url: &str) {
    if let Ok(history) = leptos::prelude::window().history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(url));
    }
}

/// Copies text to the clipboard; `Err` says why it could not (a page served over plain http
/// from another host has no clipboard; the browser may refuse the write).
pub(crate) async fn copy_text(text: &str) -> Result<(), String> {
    let navigator = leptos::prelude::window().navigator();
    let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into())
        .ok()
        .filter(|c| !c.is_undefined() && !c.is_null())
        .ok_or_else(|| {
            "this page has no clipboard (it is served over plain http): select the text and copy \
             it by hand"
                .to_owned()
        })?;
    let write: js_sys::Function = js_sys::Reflect::get(&clipboard, &"writeText".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("this browser cannot write to the clipboard")?;
    let promise: js_sys::Promise = write
        .call1(&clipboard, &text.into())
        .map_err(|e| js_message(&e))?
        .dyn_into()
        .map_err(|_| "the clipboard did not answer".to_owned())?;
    JsFuture::from(promise)
        .await
        .map(drop)
        .map_err(|e| format!("the browser refused to copy: {}", js_message(&e)))
}

pub(crate) use crate::pure::short_digest;

fn js_message(value: &JsValue) -> String {
    js_sys::Reflect::get(value, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "the download failed".into())
}

/// What a download does while it runs: `progress` hears the bytes read so far; `started` is
/// given the reader, which a Cancel cancels (then `cancelled` says so).
pub(crate) struct DownloadHooks<'a> {
    /// The bytes read so far.
    pub(crate) progress: &'a dyn Fn(u64),
    /// The stream's reader, once there is one.
    pub(crate) started: &'a dyn Fn(web_sys::ReadableStreamDefaultReader),
    /// Whether the user cancelled.
    pub(crate) cancelled: &'a dyn Fn() -> bool,
}

/// The download's reader, cancelled when the download is dropped before its end (the page was
/// left): the transfer stops and nothing is saved.
struct CancelOnDrop(Option<web_sys::ReadableStreamDefaultReader>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(reader) = self.0.take() {
            // A stream that errored rejects its cancel with that error: already reported.
            porthole_browser::ignore_rejection(&reader.cancel());
        }
    }
}

/// Bytes gathered in memory before they go into a `Blob` (which the browser may keep on disk).
const BLOB_PART_BYTES: u64 = 32 * 1024 * 1024;

/// Downloads a blob, verified against its digest while it streams, and hands it to the
/// browser as a file named `file_name`. A digest mismatch, or a cancel, fails before any file is
/// offered.
pub(crate) async fn download_blob(
    repository: &Repository<FetchTransport>,
    digest: &Digest,
    file_name: &str,
    hooks: DownloadHooks<'_>,
) -> Result<u64, String> {
    let stream = porthole_browser::download_blob_to_stream(repository, digest);
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    (hooks.started)(reader.clone());
    let mut guard = CancelOnDrop(Some(reader.clone()));
    let (parts, pending) = (js_sys::Array::new(), js_sys::Array::new());
    let (mut total, mut pending_bytes) = (0u64, 0u64);
    loop {
        let step = JsFuture::from(reader.read())
            .await
            .map_err(|e| js_message(&e))?;
        if (hooks.cancelled)() {
            return Err("cancelled; nothing was saved".into());
        }
        let done = js_sys::Reflect::get(&step, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let chunk: js_sys::Uint8Array = js_sys::Reflect::get(&step, &"value".into())
            .map_err(|e| js_message(&e))?
            .unchecked_into();
        total += u64::from(chunk.length());
        pending_bytes += u64::from(chunk.length());
        pending.push(&chunk);
        if pending_bytes >= BLOB_PART_BYTES {
            let part = blob_of(&pending)?;
            parts.push(&part);
            pending.set_length(0);
            pending_bytes = 0;
        }
        (hooks.progress)(total);
    }
    guard.0 = None;
    let last = blob_of(&pending)?;
    parts.push(&last);
    let blob = web_sys::Blob::new_with_blob_sequence(&parts).map_err(|e| js_message(&e))?;
    offer_file(&blob, file_name)?;
    Ok(total)
}

/// Hands `bytes` to the browser as a file named `file_name`.
pub(crate) fn save_bytes(bytes: &[u8], file_name: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    offer_file(&blob_of(&parts)?, file_name)
}

/// Offers `blob` as a download named `file_name`; its object URL is revoked a minute later.
fn offer_file(blob: &web_sys::Blob, file_name: &str) -> Result<(), String> {
    let url = web_sys::Url::create_object_url_with_blob(blob).map_err(|e| js_message(&e))?;
    let document = leptos::prelude::document();
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| js_message(&e))?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(file_name);
    anchor.click();
    let revoke = url.clone();
    leptos::prelude::set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&revoke);
        },
        std::time::Duration::from_secs(60),
    );
    Ok(())
}

/// A `Blob` of the byte arrays in `parts`.
fn blob_of(parts: &js_sys::Array) -> Result<web_sys::Blob, String> {
    web_sys::Blob::new_with_u8_array_sequence(parts).map_err(|e| js_message(&e))
}

/// A file name for a blob: its title annotation, else the digest's hex.
pub(crate) fn blob_file_name(title: Option<&str>, digest: &str) -> String {
    let name = title
        .map(|t| t.rsplit('/').next().unwrap_or(t).to_owned())
        .filter(|t| !t.is_empty() && t != "." && t != "..")
        .unwrap_or_else(|| digest.replace(':', "-"));
    name.chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .take(200)
        .collect()
}

/// What a page would lose if Back or Forward left it: its address, and the question to ask
/// (`None` when nothing is at stake now).
struct LeaveGuard {
    page: String,
    question: Box<dyn Fn() -> Option<String>>,
}

thread_local! {
    static LEAVE_GUARD: std::cell::RefCell<Option<LeaveGuard>> =
        const { std::cell::RefCell::new(None) };
}

/// Asks `question` before Back or Forward leaves this page, until the handle is dropped.
pub(crate) fn set_leave_guard(question: impl Fn() -> Option<String> + 'static) -> LeaveGuardHandle {
    let page = leptos::prelude::window()
        .location()
        .href()
        .unwrap_or_default();
    LEAVE_GUARD.with(|g| {
        *g.borrow_mut() = Some(LeaveGuard {
            page,
            question: Box::new(question),
        });
    });
    LeaveGuardHandle(())
}

/// Removes the guard [`set_leave_guard`] set when dropped.
#[derive(Debug)]
pub(crate) struct LeaveGuardHandle(());

impl Drop for LeaveGuardHandle {
    fn drop(&mut self) {
        LEAVE_GUARD.with(|g| g.borrow_mut().take());
    }
}

/// Listens for Back and Forward (`popstate`) ahead of the router: called once, before the
/// router starts, so that this listener runs first. When a page set a guard and something is
/// at stake, it asks; staying keeps the router from seeing the event and puts the page's
/// address back (the browser has changed it already).
pub(crate) fn guard_history_traversal() {
    let ask = |ev: web_sys::Event| {
        let asked = LEAVE_GUARD.with(|g| {
            let guard = g.borrow();
            let guard = guard.as_ref()?;
            Some((guard.page.clone(), (guard.question)()?))
        });
        let Some((page, question)) = asked else {
            return;
        };
        if leptos::prelude::window()
            .confirm_with_message(&question)
            .unwrap_or(true)
        {
            return;
        }
        ev.stop_immediate_propagation();
        if let Ok(history) = leptos::prelude::window().history() {
            let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&page));
        }
    };
    let closure = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(ask);
    let _ = leptos::prelude::window().add_event_listener_with_callback_and_bool(
        "popstate",
        closure.as_ref().unchecked_ref(),
        true,
    );
    // For the page's life, like the router's own listener.
    closure.forget();
}
