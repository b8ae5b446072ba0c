//! The files of a drop, with the folders in it walked: the browser's entries API
//! (`webkitGetAsEntry`, in every current engine) turned into `(path, File)` pairs.

use js_sys::{Array, Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DataTransfer, File, FileSystemDirectoryEntry, FileSystemDirectoryReader, FileSystemEntry,
    FileSystemFileEntry,
};

/// One thing dropped: an entry (a file or a folder), or a plain file where the browser gave
/// no entry for it.
pub(crate) enum Dropped {
    Entry(FileSystemEntry),
    File(File),
}

/// What was dropped, taken while the drop event runs (its items are gone after it); `None` where
/// the engine has no entries API.
pub(crate) fn dropped_entries(transfer: &DataTransfer) -> Option<Vec<Dropped>> {
    let items = transfer.items();
    let mut dropped = Vec::new();
    for i in 0..items.length() {
        let Some(item) = items.get(i) else { continue };
        if item.kind() != "file" {
            continue;
        }
        let has_entries = js_sys::Reflect::has(&item, &"webkitGetAsEntry".into()).ok()?;
        if !has_entries {
            return None;
        }
        match item.webkit_get_as_entry() {
            Ok(Some(entry)) => dropped.push(Dropped::Entry(entry)),
            _ => {
                if let Ok(Some(file)) = item.get_as_file() {
                    dropped.push(Dropped::File(file));
                }
            }
        }
    }
    Some(dropped)
}

/// Every file dropped, those inside folders (and their subfolders) named by their path from the
/// dropped folder on (`photos/2024/a.jpg`), the others by their name; sorted by that name.
pub(crate) async fn files_of(dropped: Vec<Dropped>) -> Result<Vec<(String, File)>, String> {
    let mut files = Vec::new();
    let mut folders = Vec::new();
    for item in dropped {
        match item {
            Dropped::File(file) => files.push((file.name(), file)),
            Dropped::Entry(entry) if entry.is_directory() => folders.push(entry),
            Dropped::Entry(entry) => files.push((path_of(&entry), file_of(&entry).await?)),
        }
    }
    while let Some(folder) = folders.pop() {
        for entry in entries_of(&folder).await? {
            if entry.is_directory() {
                folders.push(entry);
            } else {
                files.push((path_of(&entry), file_of(&entry).await?));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// The entry's path from the dropped item on, without the leading `/`.
fn path_of(entry: &FileSystemEntry) -> String {
    entry.full_path().trim_start_matches('/').to_owned()
}

/// All the entries of a folder: `readEntries` gives them in batches until an empty one.
async fn entries_of(folder: &FileSystemEntry) -> Result<Vec<FileSystemEntry>, String> {
    let reader: FileSystemDirectoryReader = folder
        .unchecked_ref::<FileSystemDirectoryEntry>()
        .create_reader();
    let mut entries = Vec::new();
    loop {
        let batch = callback_promise(|ok, err| {
            if let Err(e) = reader.read_entries_with_callback_and_callback(ok, err) {
                let _ = err.call1(&JsValue::NULL, &e);
            }
        })
        .await
        .map_err(|e| cannot_read(folder, &e))?;
        let batch: Array = batch.unchecked_into();
        if batch.length() == 0 {
            return Ok(entries);
        }
        entries.extend(batch.iter().map(JsCast::unchecked_into::<FileSystemEntry>));
    }
}

/// The `File` of a file entry.
async fn file_of(entry: &FileSystemEntry) -> Result<File, String> {
    let file_entry: &FileSystemFileEntry = entry.unchecked_ref();
    callback_promise(|ok, err| file_entry.file_with_callback_and_callback(ok, err))
        .await
        .map(JsCast::unchecked_into)
        .map_err(|e| cannot_read(entry, &e))
}

/// A promise settled by the success or error callback `start` hands to a callback-style API.
async fn callback_promise(start: impl FnOnce(&Function, &Function)) -> Result<JsValue, JsValue> {
    let mut start = Some(start);
    let promise = Promise::new(&mut |resolve, reject| {
        if let Some(start) = start.take() {
            start(&resolve, &reject);
        }
    });
    JsFuture::from(promise).await
}

fn cannot_read(entry: &FileSystemEntry, error: &JsValue) -> String {
    let reason = js_sys::Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "the browser gave no reason".into());
    format!(
        "Cannot read “{}” from the drop ({reason}): was it moved or deleted? Drop it again.",
        path_of(entry)
    )
}
