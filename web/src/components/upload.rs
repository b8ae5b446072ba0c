//! Upload on the repository page: files dropped (or picked) each become a blob, streamed from
//! the `File` in slices (never read whole), with progress, speed, digest, cancel and retry; then
//! pushed together as an OCI artifact (one layer per file, titled by its name). A folder, dropped
//! or picked, adds every file inside it, titled by its path in the folder. At most
//! [`PARALLEL_UPLOADS`] upload at once; the others wait their turn.

use std::collections::{BTreeMap, HashSet};

use leptos::prelude::*;
use leptos::task::{spawn_local, spawn_local_scoped_with_cancellation};
use leptos_router::hooks::use_navigate;
use porthole_browser::{with_abort_signal, BlobFileSource};
use porthole_core::{
    Descriptor, Digest, ImageManifest, Manifest, MediaType, Tag, TagOrDigest, UploadOptions,
    UploadProgress,
};
use wasm_bindgen::JsCast;
use web_sys::{AbortController, File};

use super::folder;
use crate::components::{is_refusal, reconnect_to_this_registry};
use crate::meta::CREATED_ANNOTATION;
use crate::routes::manifest_href;
use crate::state::Conn;
use crate::util::{announce, human_size, set_leave_guard, short_digest, LeaveGuardHandle};

/// Bytes per PATCH: small enough that the bar moves on files of a few MiB, large enough to keep
/// most of the monolithic speed (DESIGN: chunks are large by default).
const CHUNK: u64 = 16 * 1024 * 1024;

/// Uploads running at once; the others wait. A browser keeps about six connections per host,
/// and a folder of thousands of files must not open thousands of sessions together.
const PARALLEL_UPLOADS: usize = 3;

/// The artifact type proposed for a push.
pub(crate) const DEFAULT_ARTIFACT_TYPE: &str = "application/vnd.porthole.files";

/// The media type of each file's layer.
const FILE_MEDIA_TYPE: &str = "application/octet-stream";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    /// Waiting for one of the [`PARALLEL_UPLOADS`] places.
    Queued,
    Uploading,
    /// A chunk failed and the core resumes it (`UploadProgress::interruptions` rose), until a
    /// chunk lands again.
    Resuming,
    /// The registry lost the upload session (expired, purged, cancelled elsewhere): the core
    /// opened a new one and sends the file again from its first byte, until a chunk lands.
    Restarting,
    Done(String),
    Failed(String),
    Cancelled,
}

impl Status {
    /// Whether the upload is still to finish (waiting, sending, or resuming after an error).
    fn is_running(&self) -> bool {
        matches!(
            self,
            Self::Queued | Self::Uploading | Self::Resuming | Self::Restarting
        )
    }

    /// Whether it holds one of the [`PARALLEL_UPLOADS`] places.
    fn is_sending(&self) -> bool {
        matches!(self, Self::Uploading | Self::Resuming | Self::Restarting)
    }
}

/// One file being (or having been) uploaded.
#[derive(Clone)]
struct Job {
    id: usize,
    file: File,
    name: String,
    size: u64,
    status: RwSignal<Status>,
    sent: RwSignal<u64>,
    /// Bytes per second since the start.
    speed: RwSignal<f64>,
    /// The controller of the running upload, to cancel it; it also tells a run whether it is
    /// still the job's current one (a Cancel takes it out, a Retry's run puts in its own).
    abort: StoredValue<Option<AbortController>, LocalStorage>,
}

/// What the upload tasks share: the rows, and where they upload to.
#[derive(Clone, Copy)]
struct Queue {
    jobs: RwSignal<Vec<Job>, LocalStorage>,
    conn: StoredValue<Conn, LocalStorage>,
    repo_name: StoredValue<String>,
    /// Whether the registry refused the credentials for an upload or a push: said once, above
    /// the rows, with the way to sign in again.
    refused: RwSignal<bool>,
}

impl Queue {
    /// Starts waiting jobs, oldest first, while fewer than [`PARALLEL_UPLOADS`] are sending.
    /// One at a time: a job that fails to start frees its place at once for the next.
    fn pump(self) {
        while let Some(job) = self.next_to_start() {
            if !start(self, job) {
                return;
            }
        }
    }

    /// The oldest waiting job, if a place is free. `try_`: after the page is left, none.
    fn next_to_start(self) -> Option<Job> {
        self.jobs
            .try_with_untracked(|jobs| {
                let sending = jobs
                    .iter()
                    .filter(|j| j.status.with_untracked(Status::is_sending))
                    .count();
                if sending >= PARALLEL_UPLOADS {
                    return None;
                }
                jobs.iter()
                    .find(|j| j.status.get_untracked() == Status::Queued)
                    .cloned()
            })
            .flatten()
    }

    /// Puts a failed or cancelled `job` in line again (Retry).
    fn enqueue(self, job: &Job) {
        if !matches!(
            job.status.get_untracked(),
            Status::Failed(_) | Status::Cancelled
        ) {
            return;
        }
        job.status.set(Status::Queued);
        job.sent.set(0);
        job.speed.set(0.0);
        self.pump();
    }
}

/// What the panel says about a drop or a pick that added no row, or while it reads folders.
#[derive(Clone)]
enum Notice {
    Info(String),
    Error(String),
}

/// The drop zone, the file list and the artifact form.
#[component]
pub(crate) fn UploadPanel(conn: Conn, reg: String, name: String) -> impl IntoView {
    let jobs = RwSignal::new_local(Vec::<Job>::new());
    let next_id = StoredValue::new(0usize);
    let over = RwSignal::new(false);
    let conn = StoredValue::new_local(conn);
    let repo_name = StoredValue::new(name.clone());
    // Leaving the page cancels what is still uploading (its sessions are cancelled too): the
    // rows that would show the outcome are gone, and a blob nobody will push is of no use.
    on_cleanup(move || {
        jobs.try_with_untracked(|jobs| jobs.iter().for_each(cancel));
    });
    let marked_pushed = RwSignal::new(HashSet::<usize>::new());
    guard_leaving_while_uploading(jobs, marked_pushed);
    // A file dropped beside the drop zone must not make the browser open it (leaving the page
    // and every upload): the page as a whole takes no drops.
    let swallow = |ev: web_sys::Event| ev.prevent_default();
    let page_drag = window_event_listener_untyped("dragover", swallow);
    let page_drop = window_event_listener_untyped("drop", swallow);
    on_cleanup(move || {
        page_drag.remove();
        page_drop.remove();
    });

    let refused = RwSignal::new(false);
    let queue = Queue {
        jobs,
        conn,
        repo_name,
        refused,
    };
    let reconnect = reconnect_to_this_registry();

    let notice = RwSignal::new(None::<Notice>);
    // Said through the page's live region (the notice is inserted with its text).
    Effect::new(move |_| {
        if let Some(Notice::Info(text)) = notice.get() {
            announce(&text);
        }
    });
    // Counts selections and drops: a drop whose folders are still being read when another
    // comes adds its files, but leaves the notice to the newer one.
    let latest = RwSignal::new(0u64);

    let add_files = move |files: Vec<(String, File)>| {
        for (name, file) in files {
            let id = next_id.get_value();
            next_id.set_value(id + 1);
            let job = Job {
                id,
                name,
                size: file.size() as u64,
                file,
                status: RwSignal::new(Status::Queued),
                sent: RwSignal::new(0),
                speed: RwSignal::new(0.0),
                abort: StoredValue::new_local(None),
            };
            jobs.update(|j| j.push(job));
        }
        queue.pump();
    };
    let add_picked = move |list: Option<web_sys::FileList>, what: &str| {
        latest.update(|n| *n += 1);
        let files = picked_files(list);
        notice.set(
            files
                .is_empty()
                .then(|| Notice::Info(format!("Nothing to upload: no files in the {what}."))),
        );
        add_files(files);
    };
    let add_dropped = move |transfer: web_sys::DataTransfer| {
        let Some(dropped) = folder::dropped_entries(&transfer) else {
            // An engine without the entries API: the dropped files as they are.
            return add_picked(transfer.files(), "drop");
        };
        latest.update(|n| *n += 1);
        let this_drop = latest.get_untracked();
        if dropped.is_empty() {
            let only = "Only files and folders can be uploaded: drop those.";
            return notice.set(Some(Notice::Info(only.into())));
        }
        notice.set(Some(Notice::Info("Reading what was dropped…".into())));
        // Under the panel's owner: the rows it adds are the panel's, and leaving the page
        // stops the reading.
        spawn_local_scoped_with_cancellation(async move {
            let read = folder::files_of(dropped).await;
            let outcome = match (&read.files[..], &read.unreadable[..]) {
                ([], []) => Some(Notice::Info(
                    "Nothing to upload: no files in what was dropped.".into(),
                )),
                (_, []) => None,
                (_, unreadable) => Some(Notice::Error(format!(
                    "Left out {} that the browser could not read (moved, deleted, or not \
                     yours to read?): {}.",
                    if unreadable.len() == 1 {
                        "one item".to_owned()
                    } else {
                        format!("{} items", unreadable.len())
                    },
                    folder::some_of(unreadable)
                ))),
            };
            // A newer selection or drop has its own notice; only what was left out of this
            // one is worth replacing it.
            let newest = latest.get_untracked() == this_drop;
            if newest || matches!(outcome, Some(Notice::Error(_))) {
                notice.set(outcome);
            }
            add_files(read.files);
        });
    };

    let done_count = move || count_jobs(jobs, is_done);

    view! {
        <section class="upload" aria-label="Upload files">
            <div
                class="dropzone"
                class:over=move || over.get()
                data-testid="dropzone"
                on:dragover=move |ev: web_sys::DragEvent| {
                    ev.prevent_default();
                    over.set(true);
                }
                on:dragleave=move |_| over.set(false)
                on:drop=move |ev: web_sys::DragEvent| {
                    ev.prevent_default();
                    over.set(false);
                    if let Some(transfer) = ev.data_transfer() {
                        add_dropped(transfer);
                    }
                }
            >
                <p>
                    "Drop files or folders here to upload them as blobs, or "
                    <label class="btn small">
                        "choose files"
                        <input
                            class="sr-only"
                            type="file"
                            multiple
                            aria-label="Choose files to upload"
                            on:change=move |ev| {
                                let input: web_sys::HtmlInputElement = event_target(&ev);
                                add_picked(input.files(), "selection");
                                input.set_value("");
                            }
                        />
                    </label>
                    " or "
                    <label class="btn small">
                        "choose a folder"
                        <input
                            class="sr-only"
                            type="file"
                            prop:webkitdirectory=true
                            aria-label="Choose a folder to upload"
                            on:change=move |ev| {
                                let input: web_sys::HtmlInputElement = event_target(&ev);
                                add_picked(input.files(), "folder chosen");
                                input.set_value("");
                            }
                        />
                    </label>
                </p>
                {move || notice.get().map(|n| match n {
                    Notice::Info(text) => view! { <p class="muted" data-testid="upload-notice">{text}</p> }.into_any(),
                    Notice::Error(text) => view! { <p class="error-message" role="alert">{text}</p> }.into_any(),
                })}
                <Show when=move || refused.get()>
                    <p class="error-message" role="alert" data-testid="push-refused">
                        "The registry refused your credentials for pushing here (none were given, \
                         they have expired, or they lack the right to push). "
                        {reconnect.clone().map(|href| view! {
                            <a href=href>"Enter them again, or other ones"</a>
                            ", then retry the failed files."
                        })}
                    </p>
                </Show>
            </div>
            <Show when=move || jobs.with(|j| !j.is_empty())>
                <BulkActions jobs=jobs queue=queue />
                <ul class="uploads" aria-label="Uploads">
                    <For
                        each=move || jobs.get()
                        key=|j| j.id
                        children=move |job| {
                            view! { <JobRow job=job queue=queue jobs=jobs /> }
                        }
                    />
                </ul>
            </Show>
            <Show when=move || { done_count() > 0 }>
                <PushForm conn=conn reg=reg.clone() name=name.clone() jobs=jobs marked_pushed=marked_pushed refused=refused />
            </Show>
        </section>
    }
}

/// "Retry all failed" and "Cancel all", for folders of many files.
#[component]
fn BulkActions(jobs: RwSignal<Vec<Job>, LocalStorage>, queue: Queue) -> impl IntoView {
    let count = move |wanted| count_jobs(jobs, wanted);
    let retry_all = move |_| {
        let failed: Vec<Job> = jobs.with_untracked(|j| {
            j.iter()
                .filter(|j| j.status.with_untracked(is_failed))
                .cloned()
                .collect()
        });
        for job in &failed {
            queue.enqueue(job);
        }
    };
    let cancel_all = move |_| {
        jobs.with_untracked(|j| j.iter().for_each(cancel));
        queue.pump();
    };
    view! {
        <div class="bulk-uploads" role="group" aria-label="All uploads">
            <Show when=move || { count(is_failed) > 1 }>
                <button class="btn small" type="button" on:click=retry_all>
                    {move || format!("Retry all failed ({})", count(is_failed))}
                </button>
            </Show>
            <Show when=move || { count(Status::is_running) > 1 }>
                <button class="btn small" type="button" on:click=cancel_all>
                    {move || format!("Cancel all ({})", count(Status::is_running))}
                </button>
            </Show>
        </div>
    }
}

#[component]
fn JobRow(job: Job, queue: Queue, jobs: RwSignal<Vec<Job>, LocalStorage>) -> impl IntoView {
    let size = job.size;
    let status = job.status;
    let sent = job.sent;
    let speed = job.speed;
    let cancel_job = job.clone();
    let retry_job = job.clone();
    let (remove_id, remove_name) = (job.id, job.name.clone());
    // Each button names its file: a list of "Cancel" buttons says nothing to a screen reader.
    let (cancel_label, retry_label) = (
        format!("Cancel the upload of {}", job.name),
        format!("Retry the upload of {}", job.name),
    );
    let percent = move || match size {
        0 if matches!(status.get(), Status::Done(_)) => 100.0,
        0 => 0.0,
        _ => sent.get() as f64 * 100.0 / size as f64,
    };
    view! {
        <li class="upload-row" data-file=job.name.clone()>
            <div class="upload-head">
                <span class="upload-name">{job.name.clone()}</span>
                <span class="muted">{human_size(size)}</span>
                <span class="upload-state" data-state=move || match status.get() {
                    Status::Queued => "queued",
                    Status::Uploading => "uploading",
                    Status::Resuming => "resuming",
                    Status::Restarting => "restarting",
                    Status::Done(_) => "done",
                    Status::Failed(_) => "failed",
                    Status::Cancelled => "cancelled",
                }>
                    {move || match status.get() {
                        Status::Queued => "waiting…".to_owned(),
                        Status::Uploading => format!(
                            "{:.0}% · {}/s",
                            percent(),
                            human_size(speed.get() as u64),
                        ),
                        Status::Resuming => "resuming after an error…".to_owned(),
                        Status::Restarting => {
                            "starting over: the registry lost the upload session…".to_owned()
                        }
                        Status::Done(_) => format!("uploaded · {}/s", human_size(speed.get() as u64)),
                        Status::Failed(_) => "failed".to_owned(),
                        Status::Cancelled => "cancelled".to_owned(),
                    }}
                </span>
                <Show when=move || status.with(Status::is_running)>
                    <button
                        class="btn small"
                        type="button"
                        aria-label=cancel_label.clone()
                        on:click={
                            let job = cancel_job.clone();
                            move |_| {
                                cancel(&job);
                                queue.pump();
                            }
                        }
                    >
                        "Cancel"
                    </button>
                </Show>
                <Show when=move || matches!(status.get(), Status::Failed(_) | Status::Cancelled)>
                    <button
                        class="btn small"
                        type="button"
                        aria-label=retry_label.clone()
                        on:click={
                            let job = retry_job.clone();
                            move |_| queue.enqueue(&job)
                        }
                    >
                        "Retry"
                    </button>
                </Show>
                // A settled file can be taken off the list (and out of the next push).
                <Show when=move || !status.with(Status::is_running)>
                    <button
                        class="btn small"
                        type="button"
                        aria-label=format!("Remove {}", remove_name)
                        on:click=move |_| jobs.update(|j| j.retain(|x| x.id != remove_id))
                    >
                        "Remove"
                    </button>
                </Show>
            </div>
            <progress
                max="100"
                prop:value=percent
                aria-label=format!("Upload of {}", job.name)
            ></progress>
            {move || match status.get() {
                Status::Done(digest) => view! {
                    <p class="mono upload-digest" title=digest.clone() data-digest=digest.clone()>
                        {digest.clone()}
                    </p>
                }
                .into_any(),
                Status::Failed(message) => view! { <p class="error-message" role="alert">{message}</p> }.into_any(),
                _ => ().into_any(),
            }}
        </li>
    }
}

/// While a file uploads, leaving the page asks first, since the uploads would be lost: closing
/// or reloading the tab (the browser's own "Leave site?" prompt), following a link within the
/// app (a confirm, answered before the router sees the click), and the browser's Back and
/// Forward within the app (a confirm before the router sees the `popstate`; staying puts the
/// page's address back). The listeners exist only while something uploads: an idle page stays
/// eligible for the browser's back-forward cache.
fn guard_leaving_while_uploading(
    jobs: RwSignal<Vec<Job>, LocalStorage>,
    marked_pushed: RwSignal<HashSet<usize>>,
) {
    let guard = StoredValue::new_local(None::<(WindowListenerHandle, LinkGuard, LeaveGuardHandle)>);
    let drop_guard = move || {
        guard.try_update_value(|handles| {
            if let Some((unload, _links, _back)) = handles.take() {
                unload.remove();
            }
        });
    };
    Effect::new(move |_| {
        let (running, unpushed) = jobs.with(|jobs| {
            let statuses = jobs.iter().map(|j| (j.id, j.status.get()));
            marked_pushed.with(|pushed| at_stake(statuses, pushed))
        });
        if running + unpushed == 0 {
            drop_guard();
        } else if guard.with_value(Option::is_none) {
            let ask = |ev: web_sys::Event| {
                ev.prevent_default();
                // Engines before the standard prompt (Chrome < 119) ask only when this is set.
                let _ = js_sys::Reflect::set(&ev, &"returnValue".into(), &"uploading".into());
            };
            let unload = window_event_listener_untyped("beforeunload", ask);
            guard.set_value(Some((
                unload,
                LinkGuard::new(jobs, marked_pushed),
                set_leave_guard(move || leave_question(at_stake_now(jobs, marked_pushed))),
            )));
        }
    });
    on_cleanup(drop_guard);
}

/// A click listener (capture phase, on the document) that asks before an in-app link leaves
/// the page while files upload; removed when dropped.
struct LinkGuard(Option<wasm_bindgen::closure::Closure<dyn FnMut(web_sys::MouseEvent)>>);

impl LinkGuard {
    fn new(
        jobs: RwSignal<Vec<Job>, LocalStorage>,
        marked_pushed: RwSignal<HashSet<usize>>,
    ) -> Self {
        let ask = move |ev: web_sys::MouseEvent| {
            let plain_click = ev.button() == 0
                && !(ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key());
            if !plain_click || !leaves_the_page(&ev) {
                return;
            }
            let Some(question) = leave_question(at_stake_now(jobs, marked_pushed)) else {
                return;
            };
            if !window().confirm_with_message(&question).unwrap_or(true) {
                ev.prevent_default();
                ev.stop_immediate_propagation();
            }
        };
        let closure = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::MouseEvent)>::new(ask);
        let added = document()
            .add_event_listener_with_callback_and_bool(
                "click",
                closure.as_ref().unchecked_ref(),
                true,
            )
            .is_ok();
        Self(added.then_some(closure))
    }
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        if let Some(closure) = self.0.take() {
            let _ = document().remove_event_listener_with_callback_and_bool(
                "click",
                closure.as_ref().unchecked_ref(),
                true,
            );
        }
    }
}

/// What to ask before leaving, given [`at_stake_now`]; `None` when nothing is at stake.
fn leave_question(at_stake: (usize, usize)) -> Option<String> {
    match at_stake {
        (0, 0) => None,
        (0, n) => Some(format!(
            "{n} uploaded file(s) are not pushed as an artifact yet. Leaving this page forgets \
             them. Leave anyway?"
        )),
        (n, _) => Some(format!(
            "{n} file(s) are still uploading. Leaving this page cancels them. Leave anyway?"
        )),
    }
}

/// Whether a click follows a link of this app to another of its pages (not one opening a new
/// tab, a download, another site, or an anchor within the page).
fn leaves_the_page(ev: &web_sys::MouseEvent) -> bool {
    let Some(link) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest("a[href]").ok().flatten())
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    else {
        return false;
    };
    let new_tab = !link.target().is_empty() && link.target() != "_self";
    let here = window().location();
    if here.origin().ok() != Some(link.origin()) {
        return false; // Another site: the browser's own prompt (beforeunload) asks.
    }
    let same_page = link.pathname() == here.pathname().unwrap_or_default()
        && link.search() == here.search().unwrap_or_default();
    !new_tab && !link.has_attribute("download") && !same_page
}

/// How many of `jobs` have a status `wanted` (tracked: a view or effect follows it).
fn count_jobs(jobs: RwSignal<Vec<Job>, LocalStorage>, wanted: fn(&Status) -> bool) -> usize {
    jobs.with(|j| j.iter().filter(|j| j.status.with(wanted)).count())
}

fn is_done(status: &Status) -> bool {
    matches!(status, Status::Done(_))
}

fn is_failed(status: &Status) -> bool {
    matches!(status, Status::Failed(_))
}

/// What leaving the page would lose, from each job's id and status: the files still
/// uploading, and the files uploaded but in no pushed artifact.
fn at_stake(
    statuses: impl Iterator<Item = (usize, Status)>,
    pushed: &HashSet<usize>,
) -> (usize, usize) {
    statuses.fold((0, 0), |(running, unpushed), (id, status)| match status {
        Status::Done(_) if !pushed.contains(&id) => (running, unpushed + 1),
        other if other.is_running() => (running + 1, unpushed),
        _ => (running, unpushed),
    })
}

/// [`at_stake`] read now, untracked, for an event handler or a task that may outlive the page
/// (then nothing is at stake).
fn at_stake_now(
    jobs: RwSignal<Vec<Job>, LocalStorage>,
    marked_pushed: RwSignal<HashSet<usize>>,
) -> (usize, usize) {
    let pushed = marked_pushed.try_get_untracked().unwrap_or_default();
    jobs.try_with_untracked(|jobs| {
        let statuses = jobs
            .iter()
            .filter_map(|j| Some((j.id, j.status.try_get_untracked()?)));
        at_stake(statuses, &pushed)
    })
    .unwrap_or((0, 0))
}

/// The first name that occurs more than once.
fn repeated_name<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.find(|name| !seen.insert(*name))
}

/// Stops a running upload: aborts its requests, including any it would start after a retry's
/// wait. The `DELETE` that cancels the session still goes out: the core sends it as a clean-up,
/// which the transport sends without the signal.
fn cancel(job: &Job) {
    if job.status.try_get_untracked() == Some(Status::Queued) {
        job.status.try_set(Status::Cancelled);
    } else if let Some(controller) = job.abort.try_update_value(Option::take).flatten() {
        // Taken out, so that the cancelled run, which ends only after its clean-up, no longer
        // counts as the job's: a Retry may be waiting in line by then.
        job.status.try_set(Status::Cancelled);
        controller.abort();
    }
}

/// Whether the run that `controller` stops is still `job`'s current one.
fn is_current(job: &Job, controller: &AbortController) -> bool {
    job.abort
        .try_with_value(|running| running.as_ref() == Some(controller))
        == Some(true)
}

/// The files of a file input: each named by its path in the folder picked (`webkitdirectory`),
/// else by its own name; sorted by that name, as a drop's are.
fn picked_files(list: Option<web_sys::FileList>) -> Vec<(String, File)> {
    let Some(list) = list else { return Vec::new() };
    let mut files: Vec<(String, File)> = (0..list.length())
        .filter_map(|i| list.get(i))
        .map(|file| {
            let path = js_sys::Reflect::get(&file, &"webkitRelativePath".into())
                .ok()
                .and_then(|p| p.as_string())
                .filter(|p| !p.is_empty());
            (path.unwrap_or_else(|| file.name()), file)
        })
        .collect();
    folder::sort_by_name(&mut files);
    files
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// Starts the upload of `job` on the connection's client (one token cache for every upload),
/// under an abort signal of its own; once it ends, the next waiting job starts. False when the
/// page is gone (nothing was started).
fn start(queue: Queue, job: Job) -> bool {
    let (Some(conn), Some(repo_name)) =
        (queue.conn.try_get_value(), queue.repo_name.try_get_value())
    else {
        return false;
    };
    // From `Queued`, whose progress `enqueue` (or a new row) has at 0.
    job.status.set(Status::Uploading);
    let fail = |job: &Job, message: String| job.status.set(Status::Failed(message));
    let Ok(controller) = AbortController::new() else {
        fail(&job, "This browser cannot cancel requests.".into());
        return true;
    };
    let repo = match conn.repo(&repo_name) {
        Ok(repo) => repo,
        Err(e) => {
            fail(&job, e.to_string());
            return true;
        }
    };
    job.abort.set_value(Some(controller.clone()));
    spawn_local(async move {
        let source = BlobFileSource::new(job.file.clone().unchecked_into());
        let began = now();
        // Interruptions seen, and the bytes confirmed at the previous report.
        let (mut interruptions, mut confirmed) = (0u32, 0u64);
        let (sent, speed, status) = (job.sent, job.speed, job.status);
        // `try_`: the signals are gone once the page is left (the upload is then cancelled,
        // but its future runs on until the registry has answered).
        let this_run = (job.clone(), controller.clone());
        let mut on_progress = move |p: UploadProgress| {
            if !is_current(&this_run.0, &this_run.1) {
                return;
            }
            let recovering = matches!(
                status.try_get_untracked(),
                Some(Status::Resuming | Status::Restarting)
            );
            if p.confirmed < confirmed {
                // Fewer bytes confirmed than before: a new session, from byte 0.
                status.try_set(Status::Restarting);
            } else if p.interruptions > interruptions {
                status.try_set(Status::Resuming);
            } else if recovering && p.confirmed > confirmed {
                // A chunk landed after the resume or the restart.
                status.try_set(Status::Uploading);
            }
            interruptions = p.interruptions;
            confirmed = p.confirmed;
            sent.try_set(p.sent.min(p.total));
            let seconds = (now() - began) / 1000.0;
            if seconds > 0.0 {
                speed.try_set(p.confirmed as f64 / seconds);
            }
        };
        let options = UploadOptions {
            chunk_size: CHUNK,
            ..UploadOptions::default()
        };
        let upload = repo.upload_blob(&source, options, &mut on_progress);
        let result = with_abort_signal(Some(controller.signal()), upload).await;
        settle(&job, &controller, result, began, queue.refused);
        // Its place is free now: the next waiting job starts.
        queue.pump();
    });
    true
}

/// Shows how a run of `job` (the one `controller` stops) ended: done with its digest and speed,
/// or failed. A cancelled run shows nothing more, nor one a Retry replaced or the page left.
fn settle(
    job: &Job,
    controller: &AbortController,
    result: porthole_core::Result<Digest>,
    began: f64,
    refused: RwSignal<bool>,
) {
    if !is_current(job, controller) {
        return;
    }
    job.abort.set_value(None);
    match result {
        Ok(digest) => {
            let seconds = (now() - began) / 1000.0;
            if seconds > 0.0 {
                job.speed.set(job.size as f64 / seconds);
            }
            job.sent.set(job.size);
            job.status.set(Status::Done(digest.to_string()));
        }
        Err(e) => {
            if is_refusal(&e) {
                refused.try_set(true);
            }
            job.status.set(Status::Failed(e.to_string()));
        }
    }
}

/// Parses `key=value` lines (blank lines and `#` comments skipped).
pub(crate) fn parse_annotations(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("Line {} has no '=': write key=value.", n + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("Line {} has an empty key.", n + 1));
        }
        map.insert(key.to_owned(), value.trim().to_owned());
    }
    Ok(map)
}

#[component]
fn PushForm(
    conn: StoredValue<Conn, LocalStorage>,
    reg: String,
    name: String,
    jobs: RwSignal<Vec<Job>, LocalStorage>,
    /// The files pushed in an artifact (nothing is lost when the page is left).
    marked_pushed: RwSignal<HashSet<usize>>,
    /// Set when the registry refuses the credentials.
    refused: RwSignal<bool>,
) -> impl IntoView {
    let artifact_type = RwSignal::new(DEFAULT_ARTIFACT_TYPE.to_owned());
    let tag = RwSignal::new(String::new());
    let annotations = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let name = StoredValue::new(name);
    let reg = StoredValue::new(reg);
    // Files still to finish: a push now would leave them out of the artifact.
    let unfinished = move || count_jobs(jobs, Status::is_running);
    // Files that failed: a push leaves them out, which the form says.
    let failed = move || count_jobs(jobs, is_failed);
    // A push done while other files still upload: its manifest, linked.
    let pushed = RwSignal::new(None::<(String, String)>);

    let push = move || {
        error.set(None);
        pushed.set(None);
        // The finished files: (id, name, digest, size).
        let files: Vec<(usize, String, String, u64)> = jobs.with_untracked(|j| {
            j.iter()
                .filter_map(|j| match j.status.get_untracked() {
                    Status::Done(d) => Some((j.id, j.name.clone(), d, j.size)),
                    _ => None,
                })
                .collect()
        });
        let pushed_ids: Vec<usize> = files.iter().map(|(id, ..)| *id).collect();
        let tag_text = tag.get_untracked().trim().to_owned();
        let parsed_tag = match Tag::parse(&tag_text) {
            Ok(t) => t,
            Err(e) => return error.set(Some(format!("The tag is not valid: {e}"))),
        };
        let notes = match parse_annotations(&annotations.get_untracked()) {
            Ok(n) => n,
            Err(e) => return error.set(Some(e)),
        };
        let kind = artifact_type.get_untracked().trim().to_owned();
        if kind.is_empty() {
            return error.set(Some("Give an artifact type.".into()));
        }
        if let Some(twice) = repeated_name(files.iter().map(|(_, file, ..)| file.as_str())) {
            return error.set(Some(format!(
                "More than one file is named {twice}: remove all but one before pushing (the \
                 files of an artifact are told apart by name, and tools such as oras refuse \
                 two of one name)."
            )));
        }
        let mut layers = Vec::new();
        for (_, file, digest, size) in files {
            let digest = match Digest::parse(&digest) {
                Ok(d) => d,
                Err(e) => return error.set(Some(e.to_string())),
            };
            let mut d = Descriptor::new(FILE_MEDIA_TYPE, digest, size);
            d.annotations
                .insert("org.opencontainers.image.title".into(), file);
            layers.push(d);
        }
        let mut image = ImageManifest::new(Descriptor::empty_config(), layers);
        image.artifact_type = Some(MediaType::new(&kind));
        image.annotations = notes;
        // Dated as oras dates its pushes, so the tags page can sort it and "keep the newest"
        // can weigh it; a date the user typed wins.
        image
            .annotations
            .entry(CREATED_ANNOTATION.into())
            .or_insert_with(|| String::from(js_sys::Date::new_0().to_iso_string()));
        let conn = conn.get_value();
        let navigate = navigate.clone();
        // Plain strings: the form may be gone (the page left) when the push ends.
        let (reg, name) = (reg.get_value(), name.get_value());
        busy.set(true);
        spawn_local(async move {
            let result = async {
                let repo = conn.repo(&name)?;
                repo.upload_blob(&b"{}"[..], UploadOptions::default(), &mut |_| {})
                    .await?;
                let manifest = Manifest::from_image(&image)?;
                repo.put_manifest(&TagOrDigest::Tag(parsed_tag), &manifest)
                    .await
            }
            .await;
            if busy.try_get_untracked().is_none() {
                return; // The page was left: the push happened, nobody is here to tell.
            }
            busy.set(false);
            let href = manifest_href(&reg, &name, &tag_text);
            match result {
                Ok(_) => {
                    // The files in it are safe: leaving no longer asks about them.
                    marked_pushed.update(|ids| ids.extend(pushed_ids));
                    // Files still uploading keep this page (leaving would cancel them).
                    if at_stake_now(jobs, marked_pushed).0 > 0 {
                        announce(&format!("Pushed as {tag_text}."));
                        pushed.set(Some((href, tag_text)));
                    } else {
                        navigate(&href, Default::default());
                    }
                }
                Err(e) => {
                    if is_refusal(&e) {
                        refused.try_set(true);
                    }
                    error.set(Some(e.to_string()));
                }
            }
        });
    };

    view! {
        <form
            class="push-form"
            aria-label="Push as artifact"
            on:submit=move |ev| {
                ev.prevent_default();
                push();
            }
        >
            <h2>"Push the uploaded files as an artifact"</h2>
            <label>
                <span>"Artifact type"</span>
                <input
                    type="text"
                    name="artifact-type"
                    prop:value=move || artifact_type.get()
                    on:input=move |ev| artifact_type.set(event_target_value(&ev))
                />
            </label>
            <label>
                <span>"Tag"</span>
                <input
                    type="text"
                    name="tag"
                    required
                    placeholder="e.g. files-1"
                    prop:value=move || tag.get()
                    on:input=move |ev| tag.set(event_target_value(&ev))
                />
            </label>
            <label>
                <span>"Annotations (key=value, one a line)"</span>
                <textarea
                    name="annotations"
                    rows="3"
                    prop:value=move || annotations.get()
                    on:input=move |ev| annotations.set(event_target_value(&ev))
                ></textarea>
            </label>
            <p class="muted">
                {move || {
                    jobs.with(|j| {
                        let done: Vec<String> = j
                            .iter()
                            .filter_map(|j| match j.status.get() {
                                Status::Done(d) => Some(format!("{} ({})", j.name, short_digest(&d))),
                                _ => None,
                            })
                            .collect();
                        format!("Layers: {}", done.join(", "))
                    })
                }}
            </p>
            {move || {
                let text = match failed() {
                    0 => return None,
                    1 => "1 file failed and is left out of the artifact: retry it, or remove it.".to_owned(),
                    n => format!("{n} files failed and are left out of the artifact: retry them, or remove them."),
                };
                Some(view! { <p class="warn" data-testid="failed-left-out">{text}</p> })
            }}
            {move || pushed.get().map(|(href, tag)| view! {
                <p class="result-ok" data-testid="pushed">
                    "Pushed as " <a href=href>{tag}</a>
                    ". The files still uploading are not in it."
                </p>
            })}
            {move || {
                let text = match unfinished() {
                    0 => return None,
                    1 => "1 file is not uploaded yet: push once it is, or cancel it.".to_owned(),
                    n => format!("{n} files are not uploaded yet: push once they are, or cancel them."),
                };
                Some(view! { <p class="muted">{text}</p> })
            }}
            <button class="btn primary" type="submit" disabled=move || { busy.get() || unfinished() > 0 }>
                {move || if busy.get() { "Pushing…" } else { "Push as artifact" }}
            </button>
            {move || error.get().map(|e| view! { <p class="error-message" role="alert">{e}</p> })}
        </form>
    }
}
