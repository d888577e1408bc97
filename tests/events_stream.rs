//! Events read and decrypted a batch at a time (#23): every batch size and order gives the
//! outcomes of one batch, ratchets kept between batches included; the reader takes every shape a
//! byte at a time, refuses an event past its cap without reading further, and never quotes the
//! input; `events diagnose` lists the first 20 undecryptable events and counts the rest.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "../examples/gen_events/sender.rs"]
#[allow(dead_code)]
mod sender;

use std::io::Read;
use std::ops::ControlFlow;

use common::*;
use mxkeys::events::{
    for_each_event, parse_events, Decryptor, EventsError, KeyStore, Outcome, SessionOf,
};
use mxkeys::session::SessionRecord;
use serde_json::Value;

/// Three sessions, 600 messages each (three 256-message blocks), sent in turn; oldest first.
fn history() -> (KeyStore, Vec<Value>) {
    let mut out: Vec<sender::Outbound> = (0..3).map(|s| sender::Outbound::new(s + 40)).collect();
    let keys: Vec<SessionRecord> = out
        .iter()
        .zip(0..)
        .map(|(o, s)| serde_json::from_value(sender::key_json(o, s)).unwrap())
        .collect();
    let mut events = Vec::new();
    for i in 0..600 {
        for (o, s) in out.iter_mut().zip(0..) {
            events.push(sender::event_json(o, s, i));
        }
    }
    (KeyStore::from_sessions(&keys), events)
}

fn in_batches(store: &KeyStore, events: &[Value], size: usize) -> Vec<Outcome> {
    let mut d = Decryptor::new(store);
    events.chunks(size).flat_map(|b| d.decrypt(b)).collect()
}

#[test]
fn batches_in_any_order_decrypt_like_one_batch() {
    let (store, mut events) = history();
    let all_ok = |o: &[Outcome]| o.iter().all(|o| matches!(o, Outcome::Ok { .. }));
    let whole = Decryptor::new(&store).decrypt(&events);
    assert!(all_ok(&whole));
    // Sending order, newest first (as /messages returns them), and a shuffle: each batch starts
    // from the ratchet copies the batches before it kept, across the 256-message blocks.
    for order in ["oldest", "newest", "shuffled"] {
        match order {
            "newest" => events.reverse(),
            "shuffled" => {
                let mut x = 0x9E37_79B9_7F4A_7C15u64;
                for i in (1..events.len()).rev() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    events.swap(i, (x % (i as u64 + 1)) as usize);
                }
            }
            _ => {}
        }
        let one = Decryptor::new(&store).decrypt(&events);
        for size in [1, 7, 64, 500] {
            let got = in_batches(&store, &events, size);
            assert_eq!(got, one, "{order}, batches of {size}");
        }
        assert!(all_ok(&one), "{order}");
    }
}

#[test]
fn every_shape_reads_the_same_events_a_byte_at_a_time() {
    let (_, events) = history();
    let few: Vec<Value> = events.into_iter().take(5).collect();
    let lines: Vec<String> = few.iter().map(|e| e.to_string()).collect();
    let shapes = [
        serde_json::to_string_pretty(&few).unwrap(),
        format!(
            "{{\"start\": \"t\", \"chunk\": [{}], \"end\": \"u\"}}",
            lines.join(",")
        ),
        format!("{{\"limited\": false, \"events\": [{}]}}", lines.join(",")),
        format!("\n\n{}\n", lines.join("\n")),
    ];
    struct OneByte<'a>(&'a [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }
    for text in &shapes {
        let mut got = Vec::new();
        let n = for_each_event(OneByte(text.as_bytes()), 1 << 20, |v: Value| {
            got.push(v);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!((n, &got), (5, &few), "{}", &text[..40]);
        assert_eq!(parse_events(text.as_bytes()).unwrap(), few);
        // The first pass reads each event's session alone.
        let mut sessions = Vec::new();
        for_each_event(text.as_bytes(), 1 << 20, |SessionOf(s)| {
            sessions.push(s.unwrap());
            ControlFlow::Continue(())
        })
        .unwrap();
        let want: Vec<String> = few
            .iter()
            .map(|e| e["content"]["session_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(sessions, want);
    }
    // One event object by itself is one event.
    assert_eq!(parse_events(lines[0].as_bytes()).unwrap(), few[..1]);
    // The caller can stop early.
    let mut seen = 0;
    let n = for_each_event(shapes[0].as_bytes(), 1 << 20, |_: Value| {
        seen += 1;
        if seen == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!((n, seen), (2, 2));
}

/// A reader that fails the test if more than `left` bytes are taken from it.
struct Budget<R> {
    inner: R,
    left: usize,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n).expect("read past the cap");
        Ok(n)
    }
}

#[test]
fn an_event_past_the_cap_is_refused_without_reading_on() {
    const CAP: u64 = 256 * 1024;
    let secret = "S3CRETciphertext".repeat(200_000);
    let big = format!(r#"{{"content": {{"ciphertext": "{secret}"}}}}"#);
    let small = r#"{"content": {"ciphertext": "x"}}"#;
    let cases = [
        (
            format!("[{small}, {big}, {small}]"),
            EventsError::EventTooLarge { event: 2, max: CAP },
        ),
        (
            format!("{{\"chunk\": [{small}, {small}, {big}]}}"),
            EventsError::EventTooLarge { event: 3, max: CAP },
        ),
        (
            format!("{small}\n{big}\n"),
            EventsError::EventTooLarge { event: 2, max: CAP },
        ),
        // Before the list, the top-level object is kept (it may be one event): capped too.
        (
            format!("{{\"state\": [{big}], \"chunk\": []}}"),
            EventsError::OuterTooLarge { max: CAP },
        ),
    ];
    for (text, want) in cases {
        // The cap holds to within one 64 KiB buffer, and what was read is dropped.
        let input = Budget {
            inner: text.as_bytes(),
            left: CAP as usize + 3 * 64 * 1024,
        };
        let e = for_each_event(input, CAP, |_: Value| ControlFlow::Continue(())).unwrap_err();
        assert_eq!(e, want);
        assert!(!e.to_string().contains("S3CRET"), "{e}");
        let e = for_each_event(text.as_bytes(), CAP, |_: SessionOf| {
            ControlFlow::Continue(())
        });
        assert_eq!(e.unwrap_err(), want);
    }
    assert_eq!(
        EventsError::EventTooLarge {
            event: 123,
            max: 1 << 20
        }
        .to_string(),
        "event 123 is larger than 1 MiB (the most one event may take); an event a homeserver sends is at most 64 KiB: is this an events file?"
    );
    // Whitespace between events is not an event: not capped.
    let spaced = format!("[{small},{}{small}]", " ".repeat(600 * 1024));
    assert_eq!(
        for_each_event(spaced.as_bytes(), CAP, |_: Value| ControlFlow::Continue(())),
        Ok(2)
    );
}

#[test]
fn errors_name_the_position_not_the_input() {
    for (text, want) in [
        (
            "\n\n  [{\"content\": S3CRET}]",
            "not JSON: syntax error at line 3, column 16",
        ),
        (
            "[{\"content\": \"S3CRET\"}",
            "not JSON: it ends in the middle",
        ),
        (
            "{\"content\": 1}\n{\"content\": S3CRET}\n",
            "line 2: not JSON: syntax error at column 13",
        ),
        ("[{\"a\": \"S3CRET\"}] [1]", "trailing data after the array"),
        ("\"S3CRET\"", "expected a JSON array of events"),
    ] {
        let e = parse_events(text.as_bytes()).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
        assert!(!e.contains("S3CRET"), "{e}");
    }
    let deep = format!("[{{\"content\": {}1{}}}]", "[".repeat(500), "]".repeat(500));
    let e = parse_events(deep.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("nested too deeply"), "{e}");
}

#[test]
fn diagnose_lists_the_first_20_and_counts_the_rest() {
    let d = tmpdir();
    let mut o = sender::Outbound::new(7);
    let events: Vec<Value> = (0..30).map(|i| sender::event_json(&mut o, 0, i)).collect();
    let (ev, keys) = (d.path().join("events.json"), d.path().join("keys.json"));
    std::fs::write(&ev, serde_json::to_vec(&events).unwrap()).unwrap();
    std::fs::write(&keys, "[]").unwrap();
    let out = mxkeys(
        &[
            "events",
            "diagnose",
            ev.to_str().unwrap(),
            "--keys",
            keys.to_str().unwrap(),
        ],
        &[],
    );
    assert_fails(&out, 1, "30 of 30 events could not be decrypted");
    let text = String::from_utf8(out.stdout).unwrap();
    let listed = text.lines().filter(|l| l.starts_with("$ev")).count();
    assert_eq!(listed, 20, "{text}");
    assert!(text.contains("... and 10 more undecryptable events (--json lists every one)"));
    assert!(text.contains("0 of 30 events readable"), "{text}");
    assert!(text.contains("  30 unknown_session"), "{text}");
    let out = mxkeys(
        &[
            "events",
            "diagnose",
            ev.to_str().unwrap(),
            "--keys",
            keys.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["undecryptable"].as_array().unwrap().len(), 30);
    assert_eq!(r["sessions_to_look_for"][0]["needed_from_index"], 0);
}

#[test]
fn sessions_to_look_for_are_listed_once_each_with_the_lowest_index_needed() {
    let d = tmpdir();
    // 30 sessions, each needed from index 2 by one event, then from index 1 by a later one.
    let mut events = Vec::new();
    let mut ids = Vec::new();
    for s in 0..30u64 {
        let mut o = sender::Outbound::new(100 + s);
        ids.push((o.session_id(), sender::room(s)));
        let first = sender::event_json(&mut o, s, 0);
        let second = sender::event_json(&mut o, s, 1);
        let third = sender::event_json(&mut o, s, 2);
        drop(first);
        events.push(third);
        events.push(second);
    }
    ids.sort();
    let (ev, keys) = (d.path().join("events.json"), d.path().join("keys.json"));
    std::fs::write(&ev, serde_json::to_vec(&events).unwrap()).unwrap();
    std::fs::write(&keys, "[]").unwrap();
    let args = [
        "events",
        "diagnose",
        ev.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
    ];
    let out = mxkeys(&args, &[]);
    assert_fails(&out, 1, "60 of 60 events could not be decrypted");
    let text = String::from_utf8(out.stdout).unwrap();
    let wanted: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("sessions to look for"))
        .skip(1)
        .collect();
    assert_eq!(wanted.len(), 21, "{text}");
    for ((sid, room), line) in ids.iter().zip(&wanted[..20]) {
        assert_eq!(*line, format!("  {sid} (room {room}) from message index 1"));
    }
    assert_eq!(
        wanted[20],
        "  ... and 10 more sessions (--json lists every one)"
    );

    let out = mxkeys(&[&args[..], &["--json"]].concat(), &[]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<(String, String, u64)> = r["sessions_to_look_for"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["session_id"].as_str().unwrap().to_owned(),
                w["room_id"].as_str().unwrap().to_owned(),
                w["needed_from_index"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = ids.into_iter().map(|(s, r)| (s, r, 1)).collect();
    assert_eq!(listed, want);
}
