//! Signals: SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGQUIT remove every temporary output file,
//! give the terminal back its echo if a no-echo prompt was running, and end the process with
//! 128 + the signal's number (130 for Ctrl-C). The first Ctrl-C during a passphrase search only
//! asks it to stop at a point it can resume from.
//!
//! Without this, those signals end the process before any destructor runs: a named temporary
//! file full of plaintext would stay behind, and a prompt's terminal would stay without echo.
//! The handler itself only sets a flag and wakes a thread (signal-hook); the clean-up runs on
//! that thread, where it may take locks and call anything.
//!
//! What no handler can catch (SIGKILL, the out-of-memory killer, a power cut) is covered by how
//! outputs are made: on Linux they have no name until they are complete (see `output`), and the
//! held standard output is an unnamed file too (see `stdout`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use mxkeys::search::Progress;

/// The signals that end mxkeys cleanly.
const STOP_SIGNALS: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static SEARCH: OnceLock<Arc<Progress>> = OnceLock::new();
static ASKED: AtomicBool = AtomicBool::new(false);
/// Set inside the signal handler itself, so that the main thread sees it as soon as a read
/// returns because of the signal, before the clean-up thread has run.
static PENDING: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// The terminal and its settings from before a no-echo prompt, while one runs.
static TERMINAL: Mutex<Option<(File, rustix::termios::Termios)>> = Mutex::new(None);

/// Install the handlers (once, at start-up).
pub fn install() {
    let pending = PENDING.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for sig in STOP_SIGNALS {
        let _ = signal_hook::flag::register(sig, Arc::clone(pending));
    }
    let Ok(mut signals) = signal_hook::iterator::Signals::new(STOP_SIGNALS) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGINT {
                    if let Some(p) = SEARCH.get() {
                        // First Ctrl-C: let the search stop cleanly and report where to resume.
                        if !ASKED.swap(true, Ordering::SeqCst) {
                            p.cancel.store(true, Ordering::SeqCst);
                            continue;
                        }
                    }
                }
                stop(sig);
            }
        });
}

/// Clean up and end the process as the signal asks.
fn stop(sig: i32) -> ! {
    // Held until the process ends: no prompt may turn the echo off again after this.
    let mut terminal = TERMINAL.lock().unwrap_or_else(PoisonError::into_inner);
    restore(&mut terminal);
    remove_temps();
    let what = match sig {
        SIGINT => "interrupted",
        SIGHUP => "the terminal went away",
        _ => "stopped by a signal",
    };
    stderr!("\n{what}; no output was written");
    // `terminal` (the lock) is still held here.
    std::process::exit(128 + sig);
}

/// A stop signal arrived and is being handled (not the first Ctrl-C of a search, which the
/// search answers itself). The main thread then waits for the clean-up instead of reporting an
/// error of its own: a prompt cut short by Ctrl-C is not a usage error.
pub fn stopping() -> bool {
    let pending = PENDING.get().is_some_and(|p| p.load(Ordering::SeqCst));
    pending && !(SEARCH.get().is_some() && ASKED.load(Ordering::SeqCst))
}

/// Wait for the signal thread to end the process.
pub fn wait_for_stop() -> ! {
    loop {
        std::thread::park();
    }
}

fn remove_temps() {
    if let Ok(mut t) = TEMPS.lock() {
        for p in t.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A named temporary file to delete if a signal stops mxkeys.
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

/// The terminal's echo is off while this lives (a no-echo prompt); dropping it, or a stop
/// signal meanwhile, turns it back on.
///
/// Both sides take the same lock to change the terminal, and a signal ends the process while
/// holding it: a prompt that turns echo off cannot slip in after the signal restored it.
pub struct EchoOff(());

impl EchoOff {
    /// Save `tty`'s settings and turn off its echo (the line break typed at the end is still
    /// shown, ECHONL).
    ///
    /// # Errors
    /// `tty` is not a terminal.
    pub fn new(tty: &File) -> std::io::Result<EchoOff> {
        use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
        let mut saved = TERMINAL.lock().unwrap_or_else(PoisonError::into_inner);
        let settings = tcgetattr(tty)?;
        let mut quiet = settings.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        quiet.local_modes.insert(LocalModes::ECHONL);
        *saved = Some((tty.try_clone()?, settings));
        tcsetattr(tty, OptionalActions::Now, &quiet)?;
        Ok(EchoOff(()))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let mut saved = TERMINAL.lock().unwrap_or_else(PoisonError::into_inner);
        restore(&mut saved);
    }
}

fn restore(saved: &mut Option<(File, rustix::termios::Termios)>) {
    if let Some((tty, settings)) = saved.take() {
        let _ = rustix::termios::tcsetattr(&tty, rustix::termios::OptionalActions::Now, &settings);
    }
}
