//! Benches of the export hot paths: one PBKDF2-HMAC-SHA512 derivation at Element's 500000
//! rounds, and the streaming decrypt/encrypt of a 10 MB export (1 round, so the figure is the
//! armor + AES-CTR + HMAC + JSON check path alone; add the derivation for the total). Both
//! directions scan the JSON, as the commands do.

// Benches may stop on the first failure; the no-panic rule is for the library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use std::io::{Cursor, Read, Write};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mxkeys::export::{self, ExportWriter, Limits, Nonces};
use mxkeys::kdf::{self, Rounds};
use mxkeys::Passphrase;

/// About `target` bytes of realistic session JSON.
fn sessions_json(target: usize) -> Vec<u8> {
    let mut out = b"[".to_vec();
    let mut i = 0u64;
    while out.len() < target {
        if i > 0 {
            out.push(b',');
        }
        let key = "A".repeat(220);
        write!(
            out,
            r#"{{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!room{r}:example.org","sender_key":"0CuQzwXoaFCM+NaTLcxz1FNH03q/6RaZifi5JrFwnBA","sender_claimed_keys":{{"ed25519":"jC4B5dX0tQkFSu7tZWkEfybW8lZ7OGoLuKCZHI+IJaU"}},"session_id":"session{i:038}","session_key":"{key}","forwarding_curve25519_key_chain":[]}}"#,
            r = i % 100
        )
        .unwrap();
        i += 1;
    }
    out.push(b']');
    out
}

/// Copies what is read from `.0` into `.1`, as the CLI's encrypt feeds the writer.
struct Tee<'a, R, W>(R, &'a mut W);

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1.write_all(&buf[..n])?;
        Ok(n)
    }
}

fn pbkdf2(c: &mut Criterion) {
    let mut g = c.benchmark_group("pbkdf2_sha512");
    g.sample_size(10);
    let rounds = Rounds::new(500_000, 500_000).unwrap();
    g.throughput(Throughput::Elements(u64::from(rounds.get())));
    g.bench_function("500000_rounds", |b| {
        b.iter(|| kdf::pbkdf2_sha512::<64>(b"correct horse battery staple", &[7; 16], rounds))
    });
    g.finish();
}

fn export_stream(c: &mut Criterion) {
    let json = sessions_json(10 << 20);
    let pass = Passphrase::new("bench".into());
    let one = Rounds::new(1, 1).unwrap();
    let nonces = Nonces {
        salt: [1; 16],
        iv: [2; 16],
    };
    let file = export::encrypt(&json, &pass, one, nonces).unwrap();
    let mut g = c.benchmark_group("export_10MB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_with_input(BenchmarkId::new("decrypt", "stream"), &file, |b, file| {
        b.iter(|| {
            let v = export::open(Cursor::new(file.as_bytes()), &pass, &Limits::default()).unwrap();
            let mut plain = v.into_plaintext().unwrap();
            let sum = mxkeys::session::scan(std::io::BufReader::new(&mut plain), "x", |_| Ok(()));
            let mut rest = Vec::new();
            plain.read_to_end(&mut rest).unwrap();
            sum.unwrap()
        })
    });
    // As `mxkeys export encrypt` does: the JSON is scanned on its way into the writer, so both
    // directions do the same JSON work and their ratio is that of the commands.
    g.bench_with_input(BenchmarkId::new("encrypt", "stream"), &json, |b, json| {
        b.iter(|| {
            let mut w =
                ExportWriter::new(Vec::with_capacity(15 << 20), &pass, one, nonces).unwrap();
            let sum = mxkeys::session::scan(Tee(&json[..], &mut w), "x", |_| Ok(())).unwrap();
            (w.finish().unwrap(), sum)
        })
    });
    g.finish();
}

criterion_group!(benches, pbkdf2, export_stream);
criterion_main!(benches);
