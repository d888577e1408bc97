//! Decrypt a key export file with the library: `cargo run --example decrypt_export -- FILE`
//! (the passphrase is read from MXKEYS_PASSPHRASE). Prints how many sessions it holds.

use mxkeys::export::{self, Limits};
use mxkeys::Passphrase;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test-vectors/export/element-web-r1000.txt"
        )
        .into()
    });
    let pass = Passphrase::new(
        std::env::var("MXKEYS_PASSPHRASE")
            .unwrap_or_else(|_| "correct horse battery staple".into()),
    );
    let text = std::fs::read(&path)?;
    let file = export::decrypt(&text, &pass, &Limits::default())?;
    let summary = mxkeys::session::scan(&file.plaintext[..], "export", |_| Ok(()))?;
    println!(
        "{path}: {} sessions in {} rooms ({} PBKDF2 rounds)",
        summary.sessions, summary.rooms, file.header.rounds
    );
    Ok(())
}
