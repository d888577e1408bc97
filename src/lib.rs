//! mxkeys: offline tools for the key material of Matrix end-to-end encryption.
//!
//! A library of pure functions over bytes and streams; the `mxkeys` binary is a thin CLI on top.
//!
//! ```
//! use mxkeys::{export, kdf::Rounds, Passphrase};
//!
//! let sessions = br#"[{"room_id":"!r:example.org","session_id":"abc"}]"#;
//! let pass = Passphrase::new("correct horse".into());
//! let nonces = export::Nonces { salt: [1; 16], iv: [2; 16] };
//! let file = export::encrypt(sessions, &pass, Rounds::new(1000, 1000)?, nonces)?;
//! assert!(file.starts_with("-----BEGIN MEGOLM SESSION DATA-----\n"));
//!
//! let back = export::decrypt(file.as_bytes(), &pass, &export::Limits::default())?;
//! assert_eq!(&back.plaintext[..], &sessions[..]);
//! # Ok::<(), mxkeys::Error>(())
//! ```

pub mod attachment;
pub mod backup;
pub mod encoding;
pub mod error;
pub mod events;
pub mod export;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod identity;
pub mod kdf;
pub mod megolm;
pub mod merge;
pub mod recovery_key;
pub mod search;
pub mod secret;
pub mod session;
pub mod ssss;

pub use error::{ArmorError, Error};
pub use secret::{Passphrase, SecretBytes};
