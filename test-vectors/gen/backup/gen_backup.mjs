// Node half of the backup / recovery-key vector generator (see ../../backup/README.md).
//
//   node gen_backup.mjs          recovery keys from matrix-js-sdk and matrix-sdk-crypto-wasm, and a
//                                real OlmMachine key backup (PUT /room_keys/keys body + version body)
//   node gen_backup.mjs --check  every manifest recovery key through js-sdk's decoder and wasm's
//                                public-key derivation; every manifest backup through wasm decryptV1
//
// Generate mode writes wasm-machine-*.json to ../../backup/ and .build/node.json (recovery keys
// with their makers) for gen_backup.py, which writes the manifest. Check mode writes
// .build/node-check.json and fails on any disagreement with the manifest.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { W, encodeRecoveryKey, decodeRecoveryKey, machineBackup, WASM, JSSDK, NODE, b64, unb64 } from "./peers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, "..", "..", "backup");
const BUILD = join(here, ".build");
mkdirSync(BUILD, { recursive: true });

function wasmPublic(privB64) {
  return W.BackupDecryptionKey.fromBase64(privB64).megolmV1PublicKey.publicKeyBase64;
}

// ------------------------------------------------------------------ generate
async function generate() {
  const keys = [];
  // matrix-js-sdk encodeRecoveryKey over random bytes (what Element's "set up key backup" does
  // with the private key it generated); the public key from wasm.
  for (let i = 0; i < 3; i++) {
    const priv = new Uint8Array(randomBytes(32));
    keys.push({ tag: `jssdk-${i}`, recovery_key: encodeRecoveryKey(priv), private_key: b64(priv),
      public_key: wasmPublic(b64(priv)),
      made_by: `${JSSDK} encodeRecoveryKey (random 32 bytes; public key from ${WASM} BackupDecryptionKey)`,
      comment: "js-sdk-encoded random key" });
  }
  // Edge-case private keys: X25519 clamps the scalar, so these must still derive a public key.
  for (const [tag, fill, comment] of [
    ["jssdk-zero", 0x00, "private key of 32 zero bytes (the scalar is clamped before use)"],
    ["jssdk-ff", 0xff, "private key of 32 0xff bytes (clamping clears bits 0-2 and 255)"],
  ]) {
    const priv = new Uint8Array(32).fill(fill);
    keys.push({ tag, recovery_key: encodeRecoveryKey(priv), private_key: b64(priv), public_key: wasmPublic(b64(priv)),
      made_by: `${JSSDK} encodeRecoveryKey (fixed bytes; public key from ${WASM} BackupDecryptionKey)`, comment });
  }
  // wasm BackupDecryptionKey.createRandomKey (matrix-rust-sdk), encoded by js-sdk as Element does.
  const wasmKeys = [];
  for (let i = 0; i < 3; i++) {
    const k = W.BackupDecryptionKey.createRandomKey();
    wasmKeys.push(k);
    const priv = k.toBase64();
    if (wasmPublic(priv) !== k.megolmV1PublicKey.publicKeyBase64) throw new Error("wasm public key not stable");
    keys.push({ tag: `wasm-${i}`, recovery_key: encodeRecoveryKey(unb64(priv)), private_key: priv,
      public_key: k.megolmV1PublicKey.publicKeyBase64,
      made_by: `${WASM} BackupDecryptionKey.createRandomKey + ${JSSDK} encodeRecoveryKey`,
      comment: i === 0 ? "the key of wasm-machine-keys.json" : "wasm-made key" });
  }
  for (const k of keys) {
    const back = b64(decodeRecoveryKey(k.recovery_key));
    if (back !== k.private_key) throw new Error(`js-sdk round trip failed for ${k.tag}`);
  }

  const { body, versionBody, count } = await machineBackup(wasmKeys[0], "@bob:example.org", "BOBDEVICE", [
    ["!kilo:example.org", 3, W.HistoryVisibility.Shared],
    ["!lima:example.org", 2, W.HistoryVisibility.Joined],
    ["!mike:example.org", 1, W.HistoryVisibility.Shared],
  ]);
  // Expected plaintexts, as wasm itself decrypts them (exact JSON it encrypted).
  const expected = {};
  for (const [room, r] of Object.entries(body.rooms)) {
    for (const [sid, kd] of Object.entries(r.sessions)) {
      const sd = kd.session_data;
      (expected[room] ??= {})[sid] = JSON.parse(wasmKeys[0].decryptV1(sd.ephemeral, sd.mac, sd.ciphertext));
    }
  }
  writeFileSync(join(OUT, "wasm-machine-keys.json"), JSON.stringify(body, null, 2) + "\n");
  writeFileSync(join(OUT, "wasm-machine-version.json"), JSON.stringify(versionBody, null, 2) + "\n");
  writeFileSync(join(OUT, "wasm-machine-keys.expected.json"), JSON.stringify(expected, null, 2) + "\n");
  writeFileSync(join(BUILD, "node.json"), JSON.stringify({
    keys, wasm: WASM, jssdk: JSSDK, node: NODE,
    machine: { recovery_key: keys.find((k) => k.tag === "wasm-0").recovery_key, count,
      made_by: `${WASM} OlmMachine.enableBackupV1 + backupRoomKeys (${NODE}); auth_data signed by OlmMachine.sign as ${JSSDK} RustCrypto.signObject does` },
  }, null, 2));
  console.log(`wasm OlmMachine backup: ${count} sessions in ${Object.keys(body.rooms).length} rooms; ${keys.length} recovery keys`);
}

// --------------------------------------------------------------------- check
function jsSdkVerdict(rk) {
  try { return { ok: true, key: b64(decodeRecoveryKey(rk)) }; } catch (e) { return { ok: false, error: e.message }; }
}

function shapeToRooms(entry, doc) {
  switch (entry.shape) {
    case "keys": return doc.rooms;
    case "room": return { [entry.room_id]: doc };
    case "key_backup_data": return { [entry.room_id]: { sessions: { [entry.session_id]: doc } } };
    case "session_data": return { [entry.room_id]: { sessions: { [entry.session_id]: { session_data: doc } } } };
    default: throw new Error(`shape ${entry.shape}`);
  }
}

function check() {
  const manifest = JSON.parse(readFileSync(join(OUT, "manifest.json"), "utf8"));
  const lines = [];
  let bad = 0;
  const out = { recovery_keys: [], backups: [] };
  for (const rk of manifest.recovery_keys) {
    const v = jsSdkVerdict(rk.recovery_key);
    let problem = null;
    const otherWhitespace = /[^\S ]/.test(rk.recovery_key);
    if (rk.expect === "ok") {
      // js-sdk strips only U+0020 before decoding (the spec says "disregard whitespace").
      if (!v.ok && otherWhitespace && v.error === "Non-base58 character") v.error += " (known: js-sdk strips only spaces)";
      else if (!v.ok) problem = `js-sdk refuses: ${v.error}`;
      else if (v.key !== rk.private_key) problem = "js-sdk decodes to another private key";
      else if (wasmPublic(v.key) !== rk.public_key) problem = "wasm derives another public key";
    } else if (v.ok) problem = `js-sdk accepts a key expected ${rk.expect}`;
    out.recovery_keys.push({ recovery_key: rk.recovery_key, expect: rk.expect, jssdk: v.ok ? "ok" : v.error });
    if (problem) { bad++; lines.push(`FAIL recovery key ${JSON.stringify(rk.recovery_key)} (${rk.expect}): ${problem}`); }
  }
  for (const e of manifest.backups) {
    const doc = JSON.parse(readFileSync(join(OUT, e.file), "utf8"));
    const key = W.BackupDecryptionKey.fromBase64(b64(decodeRecoveryKey(e.recovery_key)));
    const tag = `${e.file} [${e.recovery_key.slice(0, 9)}…, ${e.expect}]`;
    if (e.auth_data) {
      const ad = JSON.parse(readFileSync(join(OUT, e.auth_data), "utf8")).auth_data;
      const match = ad.public_key === key.megolmV1PublicKey.publicKeyBase64;
      if (match !== (e.expect !== "wrong_key")) { bad++; lines.push(`FAIL ${tag}: auth_data public key match=${match}`); }
      if (!match) { out.backups.push({ file: e.file, verdict: "wrong_key" }); continue; }
    }
    const expected = e.sessions ? JSON.parse(readFileSync(join(OUT, e.sessions), "utf8")) : {};
    const failures = new Map(e.failures.map((f) => [`${f.room_id}|${f.session_id}`, f.kind]));
    const seen = [];
    for (const [room, r] of Object.entries(shapeToRooms(e, doc))) {
      for (const [sid, kd] of Object.entries(r.sessions)) {
        const sd = kd.session_data;
        let res;
        try {
          const pt = key.decryptV1(sd.ephemeral, sd.mac, sd.ciphertext);
          try { res = { ok: true, value: JSON.parse(pt) }; } catch { res = { ok: true, value: undefined, raw: pt }; }
        } catch (err) { res = { ok: false, error: String(err.message ?? err) }; }
        const want = expected[room]?.[sid];
        const kind = failures.get(`${room}|${sid}`);
        seen.push({ room, sid, wasm: res.ok ? "decrypts" : res.error, manifest: kind ?? "ok" });
        // wasm checks only the empty-message MAC: a ciphertext-MAC session is a MAC failure
        // for it, and it does not look at session_key. Everything else must agree.
        if (want !== undefined) {
          if (e.mac_kind === "ciphertext") {
            if (res.ok) { bad++; lines.push(`FAIL ${tag} ${room} ${sid}: wasm accepted a ciphertext MAC`); }
          } else if (!res.ok) { bad++; lines.push(`FAIL ${tag} ${room} ${sid}: wasm: ${res.error}`); }
          else if (JSON.stringify(res.value) !== JSON.stringify(want)) { bad++; lines.push(`FAIL ${tag} ${room} ${sid}: wasm plaintext differs`); }
        } else if (kind === "session_key") {
          if (!res.ok || res.value === undefined) { bad++; lines.push(`FAIL ${tag} ${room} ${sid}: wasm did not decrypt the session_key case`); }
        } else if (res.ok && res.value !== undefined) {
          bad++; lines.push(`FAIL ${tag} ${room} ${sid}: wasm decrypts a session expected ${kind}`);
        }
      }
    }
    out.backups.push({ file: e.file, recovery_key: e.recovery_key, sessions: seen });
  }
  writeFileSync(join(BUILD, "node-check.json"), JSON.stringify(out, null, 2));
  for (const l of lines) console.log(l);
  console.log(`node check (${JSSDK}, ${WASM}): ${manifest.recovery_keys.length} recovery keys, ${manifest.backups.length} backups, ${bad} problems`);
  if (bad) process.exit(1);
}

if (process.argv.includes("--check")) check(); else await generate();
