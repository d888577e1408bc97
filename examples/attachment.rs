//! Encrypt bytes as a Matrix attachment and decrypt them again, streaming:
//! `cargo run --example attachment`.

use std::io::Write;

use mxkeys::attachment::{AttachmentDecryptor, AttachmentEncryptor, AttachmentKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = b"hello, encrypted world".repeat(1000);
    // Real callers take the key and IV from the OS random number generator.
    let mut enc = AttachmentEncryptor::new(Vec::new(), &mut [7u8; 32], [9u8; 8]);
    enc.write_all(&data)?;
    let (info, ciphertext) = enc.finish(Some("mxc://example.org/abc".into()))?;
    println!("{}", serde_json::to_string_pretty(&info)?);
    let key = AttachmentKey::from_info(&info)?;
    let mut dec = AttachmentDecryptor::new(Vec::new(), &key);
    dec.write_all(&ciphertext)?;
    let plain = dec.finish()?; // the hash is checked here, before the plaintext is trusted
    assert_eq!(plain, data);
    println!("{} bytes round-tripped", plain.len());
    Ok(())
}
