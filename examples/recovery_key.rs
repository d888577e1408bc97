//! Decode a Security Key and print the backup public key it belongs to:
//! `cargo run --example recovery_key -- 'EsTc LW2K ...'`.

use mxkeys::encoding::encode_unpadded;
use mxkeys::recovery_key::{self, RecoveryKey};

fn main() {
    let text = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "EsUB wbCY 8XzX ohJF dMUa KRtV QJva 1xp3 GyTk 5fmJ ysws Sj6U".into());
    match RecoveryKey::decode(&text) {
        Ok(key) => println!(
            "backup public key: {}",
            encode_unpadded(&key.backup_public_key())
        ),
        Err(e) => {
            println!("not a valid key: {e}");
            for fix in recovery_key::suggest(&text) {
                println!("  did you mean: {}", fix.as_str());
            }
        }
    }
}
