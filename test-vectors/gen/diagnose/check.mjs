// Reads the files gen.mjs wrote (nothing of its state) and applies the rules that src/explain.rs
// documents, independently of mxkeys: an event is `ok` when keys.json holds its session, else an
// unknown session whose reason is, in this order, a withheld notice (by session_id, or m.no_olm by
// the sender's curve25519 key), history before the user's join in a room that shares it with no
// m.room_key_bundle for the room, or a sending device (found by curve25519 key in the /keys/query
// response, owned by the event's sender) not cross-signed by its user's self-signing key (ed25519
// signatures checked here with node:crypto over another-json's canonical JSON). Fails when the
// result differs from manifest.json's `expected`.
//
//   node check.mjs OUTDIR
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(new URL("../dehydrated/package.json", import.meta.url));
const anotherJson = require("another-json");

const dir = process.argv[2];
const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
const events = read("events.json");
const keys = read("keys.json");
const toDevice = read("to-device.json").events;
const kq = read("keys-query.json");
const manifest = read("manifest.json");
const me = manifest.user_id;

const b64 = (s) => Buffer.from(s, "base64");
function verify(obj, signer, keyId, pubB64) {
  const sig = obj.signatures?.[signer]?.[keyId];
  if (!sig) return false;
  const { signatures, unsigned, ...rest } = obj;
  const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), b64(pubB64)]);
  const key = crypto.createPublicKey({ key: spki, format: "der", type: "spki" });
  return crypto.verify(null, Buffer.from(anotherJson.stringify(rest)), key, b64(sig));
}
const only = (o) => Object.entries(o.keys)[0]; // [keyId, pub]

// cross-signing status by curve25519 key
const devices = {};
for (const [user, devs] of Object.entries(kq.device_keys)) {
  const master = kq.master_keys?.[user];
  const ssk = kq.self_signing_keys?.[user];
  let sskOk = false;
  if (master && ssk) {
    const [mId, mPub] = only(master);
    sskOk = verify(ssk, user, mId, mPub);
  }
  for (const [id, dk] of Object.entries(devs)) {
    const curve = dk.keys[`curve25519:${id}`];
    const selfOk = verify(dk, user, `ed25519:${id}`, dk.keys[`ed25519:${id}`]);
    const crossOk = sskOk && selfOk && verify(dk, user, ...only(ssk));
    devices[curve] = { user, id, crossSigned: crossOk };
  }
}

const withheld = {};
const noOlm = {};
const bundles = new Set();
for (const ev of toDevice) {
  if (ev.type === "m.room_key.withheld") {
    if (ev.content.session_id) withheld[ev.content.session_id] = ev.content.code;
    else noOlm[ev.content.sender_key] = ev.content.code;
  } else if (ev.type === "m.room_key_bundle") bundles.add(ev.content.room_id);
}
const joined = {};
const shares = new Set();
for (const ev of events) {
  if (ev.type === "m.room.member" && ev.state_key === me && ev.content.membership === "join") joined[ev.room_id] = Math.max(joined[ev.room_id] ?? 0, ev.origin_server_ts);
  if (ev.type === "m.room.history_visibility") {
    if (["shared", "world_readable"].includes(ev.content.history_visibility)) shares.add(ev.room_id);
    else shares.delete(ev.room_id);
  }
}
const have = new Set(keys.map((k) => `${k.room_id}|${k.session_id}`));

let bad = 0;
let n = 0;
for (const ev of events.filter((e) => e.type === "m.room.encrypted")) {
  n++;
  const c = ev.content;
  let got;
  if (have.has(`${ev.room_id}|${c.session_id}`)) got = { diagnosis: "ok" };
  else if (withheld[c.session_id] ?? noOlm[c.sender_key]) got = { diagnosis: "unknown_session", reason: "withheld", code: withheld[c.session_id] ?? noOlm[c.sender_key] };
  else if (shares.has(ev.room_id) && joined[ev.room_id] !== undefined && ev.origin_server_ts < joined[ev.room_id] && !bundles.has(ev.room_id)) got = { diagnosis: "unknown_session", reason: "no_history_bundle" };
  else {
    const d = devices[c.sender_key];
    got = d && d.user === ev.sender && !d.crossSigned ? { diagnosis: "unknown_session", reason: "sender_not_cross_signed" } : { diagnosis: "unknown_session", reason: null };
  }
  const want = manifest.expected[ev.event_id];
  const same = want && want.diagnosis === got.diagnosis && (want.reason ?? null) === (got.reason ?? null) && (want.code ?? undefined) === got.code;
  if (!same) {
    bad++;
    console.error(`MISMATCH ${ev.event_id} (${want?.label}): rules give ${JSON.stringify(got)}, manifest ${JSON.stringify(want && { diagnosis: want.diagnosis, reason: want.reason, code: want.code })}`);
  }
}
const xs = Object.values(devices).map((d) => `${d.id}:${d.crossSigned ? "cross-signed" : "NOT cross-signed"}`).join(" ");
if (bad) {
  console.error(`check: ${bad} of ${n} events disagree`);
  process.exit(1);
}
console.log(`check: the rules of src/explain.rs, read from the files alone, give the manifest's diagnosis for all ${n} encrypted events (${xs})`);
