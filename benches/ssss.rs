//! Bench of secret-storage decryption with a Security Key: parse the account data, pick the
//! default key, check the key against its description (HKDF + AES-CTR + HMAC), then decrypt the
//! four well-known secrets (per secret: HKDF, HMAC check, AES-256-CTR). A Security Phrase adds one
//! PBKDF2-HMAC-SHA-512 derivation (`pbkdf2_sha512` in benches/export.rs), which dwarfs all this.

// Benches may stop on the first failure; the no-panic rule is for the library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mxkeys::encoding::encode_unpadded;
use mxkeys::kdf::Limits;
use mxkeys::recovery_key::RecoveryKey;
use mxkeys::ssss::{self, AccountData, Unlock, KNOWN_SECRETS};
use serde_json::{json, Value};

fn account_data(key: &[u8; 32]) -> Value {
    let mut ad = json!({
        "m.secret_storage.default_key": {"key": "bench"},
        "m.secret_storage.key.bench": ssss::describe_key(key, [3; 16], Some("bench")),
    });
    for (i, name) in KNOWN_SECRETS.iter().enumerate() {
        // Secrets are the unpadded base64 of 32 bytes, as clients store them.
        let value = encode_unpadded(&[i as u8 + 40; 32]);
        let payload = ssss::encrypt_secret(key, name, &value, [i as u8 + 1; 16]);
        ad[name] = json!({"encrypted": {"bench": payload}});
    }
    ad
}

fn ssss(c: &mut Criterion) {
    let key_bytes = [7u8; 32];
    let doc = account_data(&key_bytes);
    let key = RecoveryKey::from_bytes(&mut key_bytes.clone());
    let run = |doc: &Value| {
        let ad = AccountData::parse(doc).unwrap();
        let desc = ad.resolve_key(None).unwrap();
        let unlocked =
            ssss::unlock(&desc, Unlock::SecurityKey(&key), &Limits { max_rounds: 1 }).unwrap();
        ssss::decrypt_secrets(&ad, &unlocked, &[]).unwrap()
    };
    let secrets = run(&doc);
    assert_eq!(secrets.len(), KNOWN_SECRETS.len());
    assert!(secrets.iter().all(|(_, r)| r.is_ok()));

    let mut g = c.benchmark_group("ssss_decrypt");
    g.sample_size(10);
    g.throughput(Throughput::Elements(KNOWN_SECRETS.len() as u64));
    g.bench_function("security_key_4_secrets", |b| b.iter(|| run(&doc)));
    g.finish();
}

criterion_group!(benches, ssss);
criterion_main!(benches);
