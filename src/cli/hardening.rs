//! Process hardening at start-up, before any secret is read: no core dumps, and on Linux not
//! dumpable at all.
//!
//! A crash or an out-of-memory abort would otherwise write a core file holding every session
//! key, passphrase and private key in memory (a review saw a 1.66 GB core with the Security Key
//! text in it). `RLIMIT_CORE` 0 stops the kernel writing one (also through a `core_pattern`
//! pipe to systemd-coredump or apport, which honour the limit for the crashing process), and
//! `PR_SET_DUMPABLE` 0 additionally keeps other processes of the same user from attaching with
//! ptrace or reading `/proc/PID/mem` and `/proc/PID/environ`. Root can still read the process's
//! memory; SECURITY.md says so.

/// Apply what the platform allows; failures are ignored (the tool still works, only without
/// this extra protection), except that a test checks the effect through `/proc/PID/limits`.
pub fn harden() {
    #[cfg(unix)]
    {
        use rustix::process::{setrlimit, Resource, Rlimit};
        let _ = setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        );
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::process::{set_dumpable_behavior, DumpableBehavior};
        let _ = set_dumpable_behavior(DumpableBehavior::NotDumpable);
    }
}
