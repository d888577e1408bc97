//! Ctrl-C: remove every temporary output file, or stop a running passphrase search at a point it
//! can resume from. Without this, SIGINT would end the process before any destructor runs and
//! leave `.mxkeys-*.tmp` files behind.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use mxkeys::search::Progress;

static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static SEARCH: OnceLock<Arc<Progress>> = OnceLock::new();
static ASKED: AtomicBool = AtomicBool::new(false);

/// Install the handler (once, at start-up).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if let Some(p) = SEARCH.get() {
            // First Ctrl-C: let the search stop cleanly and report where to resume.
            if !ASKED.swap(true, Ordering::SeqCst) {
                p.cancel.store(true, Ordering::SeqCst);
                return;
            }
        }
        remove_temps();
        eprintln!("\ninterrupted; no output was written");
        std::process::exit(130);
    });
}

fn remove_temps() {
    if let Ok(mut t) = TEMPS.lock() {
        for p in t.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A temporary file to delete on Ctrl-C.
pub fn register(path: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.push(path.to_path_buf());
    }
}

/// The file was renamed into place or dropped: nothing to delete any more.
pub fn unregister(path: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.retain(|p| p != path);
    }
}

/// The search whose progress Ctrl-C should cancel.
pub fn set_search(p: Arc<Progress>) {
    let _ = SEARCH.set(p);
}
