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

/// What a drop holds, read.
pub(crate) struct DroppedFiles {
    /// Every file, those inside folders (and their subfolders) named by their path from the
    /// dropped folder on (`photos/2024/a.jpg`), the others by their name; sorted by that name.
    pub(crate) files: Vec<(String, File)>,
    /// The paths of the files and folders the browser could not read (left out).
    pub(crate) unreadable: Vec<String>,
}

/// Reads a drop: its files, and every file in its folders.
pub(crate) async fn files_of(dropped: Vec<Dropped>) -> DroppedFiles {
    let mut read = DroppedFiles {
        files: Vec::new(),
        unreadable: Vec::new(),
    };
    let mut folders = Vec::new();
    let mut file_entries = Vec::new();
    for item in dropped {
        match item {
            Dropped::File(file) => read.files.push((file.name(), file)),
            Dropped::Entry(entry) if entry.is_directory() => folders.push(entry),
            Dropped::Entry(entry) => file_entries.push(entry),
        }
    }
    while let Some(folder) = folders.pop() {
        match entries_of(&folder).await {
            Ok(entries) => {
                let (subfolders, files): (Vec<_>, Vec<_>) =
                    entries.into_iter().partition(FileSystemEntry::is_directory);
                folders.extend(subfolders);
                file_entries.extend(files);
            }
            Err(()) => read.unreadable.push(path_of(&folder)),
        }
    }
    for entry in file_entries {
        match file_of(&entry).await {
            Ok(file) => read.files.push((path_of(&entry), file)),
            Err(()) => read.unreadable.push(path_of(&entry)),
        }
    }
    sort_by_name(&mut read.files);
    read.unreadable.sort();
    read
}

/// Sorts named files by name (a path sorts beside its folder's other files).
pub(crate) fn sort_by_name(files: &mut [(String, File)]) {
    files.sort_by(|a, b| a.0.cmp(&b.0));
}

/// The first few names, then how many more: a notice stays readable for a large folder.
pub(crate) fn some_of(names: &[String]) -> String {
    const SHOWN: usize = 5;
    match names.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{} and {more} more", names[..SHOWN].join(", ")),
        _ => names.join(", "),
    }
}

/// The entry's path from the dropped item on, without the leading `/`.
fn path_of(entry: &FileSystemEntry) -> String {
    entry.full_path().trim_start_matches('/').to_owned()
}

/// All the entries of a folder: `readEntries` gives them in batches until an empty one.
async fn entries_of(folder: &FileSystemEntry) -> Result<Vec<FileSystemEntry>, ()> {
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
        .map_err(drop)?;
        let batch: Array = batch.unchecked_into();
        if batch.length() == 0 {
            return Ok(entries);
        }
        entries.extend(batch.iter().map(JsCast::unchecked_into::<FileSystemEntry>));
    }
}

/// The `File` of a file entry.
async fn file_of(entry: &FileSystemEntry) -> Result<File, ()> {
    let file_entry: &FileSystemFileEntry = entry.unchecked_ref();
    callback_promise(|ok, err| file_entry.file_with_callback_and_callback(ok, err))
        .await
        .map(JsCast::unchecked_into)
        .map_err(drop)
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
