//! Write N `m.room.encrypted` events and the keys that decrypt them, for measuring
//! `mxkeys events decrypt|diagnose` on large inputs (benches/large-events.sh):
//!
//!   cargo run --release --example gen_events -- N EVENTS KEYS [--sessions S]
//!       [--order newest|oldest] [--shape array|messages|jsonl] [--no-keys]
//!
//! S sessions (default N/1000, at least 1) send messages 0, 1, 2, ... in turn (round robin), ten
//! rooms; `--order newest` (the default) writes them newest first, as `/messages?dir=b` returns
//! them. `--shape`: a JSON array, one event per line (default), a `/messages` body
//! (`{"chunk": [...]}`), or JSON Lines. `--no-keys` writes an empty keys array: every event is
//! then of an unknown session. Deterministic: the same arguments write the same files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sender;

use std::io::{BufWriter, Write};

use rayon::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: gen_events N EVENTS KEYS [--sessions S] [--order newest|oldest] [--shape array|messages|jsonl] [--no-keys]";
    let mut pos = Vec::new();
    let (mut sessions, mut newest, mut shape, mut keys_too) =
        (None, true, "array".to_owned(), true);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sessions" => sessions = Some(it.next().expect(usage).parse::<u64>().expect(usage)),
            "--order" => newest = it.next().expect(usage) == "newest",
            "--shape" => shape = it.next().expect(usage).clone(),
            "--no-keys" => keys_too = false,
            _ => pos.push(a.clone()),
        }
    }
    let [n, events_path, keys_path] = pos.as_slice() else {
        panic!("{usage}");
    };
    let n: u64 = n.parse().expect(usage);
    let s = sessions.unwrap_or((n / 1000).max(1)).clamp(1, n.max(1));
    let per = n.div_ceil(s) as u32;
    // Each session's events, oldest first, made in parallel.
    let made: Vec<(serde_json::Value, Vec<String>)> = (0..s)
        .into_par_iter()
        .map(|sid| {
            let mut o = sender::Outbound::new(sid + 11);
            let key = sender::key_json(&o, sid);
            let evs = (0..per)
                .filter(|i| u64::from(*i) * s + sid < n)
                .map(|i| serde_json::to_string(&sender::event_json(&mut o, sid, i)).unwrap())
                .collect();
            (key, evs)
        })
        .collect();
    let mut order: Vec<(usize, usize)> = (0..per as usize)
        .flat_map(|i| (0..made.len()).map(move |sid| (sid, i)))
        .filter(|(sid, i)| i < &made[*sid].1.len())
        .collect();
    if newest {
        order.reverse();
    }
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(events_path).unwrap());
    let (open, sep, close) = match shape.as_str() {
        "array" => ("[\n", ",\n", "\n]\n"),
        "messages" => (
            "{\"start\": \"t1\", \"chunk\": [\n",
            ",\n",
            "\n], \"end\": \"t0\"}\n",
        ),
        "jsonl" => ("", "\n", "\n"),
        _ => panic!("{usage}"),
    };
    out.write_all(open.as_bytes()).unwrap();
    for (k, (sid, i)) in order.iter().enumerate() {
        if k > 0 {
            out.write_all(sep.as_bytes()).unwrap();
        }
        out.write_all(made[*sid].1[*i].as_bytes()).unwrap();
    }
    out.write_all(close.as_bytes()).unwrap();
    out.flush().unwrap();
    let keys: Vec<&serde_json::Value> = if keys_too {
        made.iter().map(|(k, _)| k).collect()
    } else {
        Vec::new()
    };
    let mut kout = BufWriter::new(std::fs::File::create(keys_path).unwrap());
    serde_json::to_writer(&mut kout, &keys).unwrap();
    kout.flush().unwrap();
    eprintln!(
        "{} events of {} sessions ({} first) in {events_path}, {} keys in {keys_path}",
        order.len(),
        made.len(),
        if newest { "newest" } else { "oldest" },
        keys.len()
    );
}
