// Node half of the megolm / events vector generator (see ../../megolm/README.md and
// ../../events/README.md). Only @matrix-org/matrix-sdk-crypto-wasm is used here.
//
//   node gen_wasm.mjs make                      -> .build/wasm-make.json (real sessions + encrypted events)
//   node gen_wasm.mjs decrypt KEYS EVENTS OUT    -> try every event of EVENTS (a JSON array of full events)
//                                                  with a fresh OlmMachine that imported KEYS (export JSON)
//   node gen_wasm.mjs import KEYS OUT            -> what importExportedRoomKeys accepts from an export file
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const BUILD = join(here, ".build");
mkdirSync(BUILD, { recursive: true });
const require = createRequire(import.meta.url);
const W = await import("@matrix-org/matrix-sdk-crypto-wasm");
await W.initAsync();
const wasmVersion = JSON.parse(
  readFileSync(join(here, "node_modules/@matrix-org/matrix-sdk-crypto-wasm/package.json"), "utf8"),
).version;
export const MADE_BY = `@matrix-org/matrix-sdk-crypto-wasm ${wasmVersion} OlmMachine (Node ${process.versions.node})`;

async function make() {
  const user = "@alice:example.org";
  const device = "ALICEWASM";
  const m = await W.OlmMachine.initialize(new W.UserId(user), new W.DeviceId(device));
  // room -> list of message counts, one entry per outbound session
  const plan = [
    ["!alpha:example.org", [3, 6], W.HistoryVisibility.Shared],
    ["!beta:example.org", [2, 25], W.HistoryVisibility.Shared],
    ["!gamma:example.org", [4], W.HistoryVisibility.Joined],
    ["!delta:example.org", [1, 2], W.HistoryVisibility.Shared],
  ];
  const events = [];
  for (const [room, counts, vis] of plan) {
    const rid = new W.RoomId(room);
    for (const n of counts) {
      const settings = new W.EncryptionSettings();
      settings.historyVisibility = vis;
      settings.rotationPeriodMessages = 100000n;
      await m.shareRoomKey(rid, [], settings);
      for (let k = 0; k < n; k++) {
        const content = { msgtype: "m.text", body: `${room.slice(1, room.indexOf(":"))} message ${k} ✓` };
        if (k === 1) content.format = "org.matrix.custom.html", content.formatted_body = `<b>bold ${k}</b>`;
        const enc = JSON.parse(await m.encryptRoomEvent(rid, "m.room.message", JSON.stringify(content)));
        events.push({ room_id: room, content: enc, plaintext: { type: "m.room.message", content } });
      }
      // one non-message event type too
      if (n >= 3) {
        const content = { key: "👍", "m.relates_to": { rel_type: "m.annotation", event_id: "$target:example.org" } };
        const enc = JSON.parse(await m.encryptRoomEvent(rid, "m.reaction", JSON.stringify({ "m.relates_to": content["m.relates_to"], key: content.key })));
        events.push({ room_id: room, content: enc, plaintext: { type: "m.reaction", content: { "m.relates_to": content["m.relates_to"], key: content.key } } });
      }
      await m.invalidateGroupSession(rid);
    }
  }
  const ids = m.identityKeys;
  const out = {
    made_by: MADE_BY,
    user_id: user,
    device_id: device,
    curve25519: ids.curve25519.toBase64(),
    ed25519: ids.ed25519.toBase64(),
    sessions: JSON.parse(await m.exportRoomKeys(() => true)),
    events,
  };
  writeFileSync(join(BUILD, "wasm-make.json"), JSON.stringify(out, null, 1));
  console.log(`wasm: ${out.sessions.length} sessions, ${events.length} events`);
}

async function importKeys(machine, keysText) {
  const r = await machine.importExportedRoomKeys(keysText, () => {});
  return { imported: Number(r.importedCount), total: Number(r.totalCount) };
}

async function decrypt(keysPath, eventsPath, outPath) {
  const m = await W.OlmMachine.initialize(new W.UserId("@bob:example.org"), new W.DeviceId("BOBWASM"));
  let imp;
  try {
    imp = await importKeys(m, readFileSync(keysPath, "utf8"));
  } catch (e) {
    imp = { error: String(e && e.message ? e.message : e) };
  }
  const events = JSON.parse(readFileSync(eventsPath, "utf8"));
  const settings = new W.DecryptionSettings(W.TrustRequirement.Untrusted);
  const results = [];
  for (const ev of events) {
    try {
      const d = await m.decryptRoomEvent(JSON.stringify(ev), new W.RoomId(ev.room_id), settings);
      results.push({ event_id: ev.event_id, ok: true, event: JSON.parse(d.event) });
    } catch (e) {
      const desc = e && (e.description || e.message);
      results.push({ event_id: ev.event_id, ok: false, error: `code ${e && e.code}: ${desc || String(e)}` });
    }
  }
  writeFileSync(outPath, JSON.stringify({ import: imp, results }, null, 1));
}

async function importOnly(keysPath, outPath) {
  const m = await W.OlmMachine.initialize(new W.UserId("@bob:example.org"), new W.DeviceId("BOBWASM"));
  let r;
  try {
    r = await importKeys(m, readFileSync(keysPath, "utf8"));
  } catch (e) {
    r = { error: String(e && e.message ? e.message : e) };
  }
  writeFileSync(outPath, JSON.stringify(r));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "make") await make();
else if (mode === "decrypt") await decrypt(...args);
else if (mode === "import") await importOnly(...args);
else {
  console.error("usage: node gen_wasm.mjs make | decrypt KEYS EVENTS OUT | import KEYS OUT");
  process.exit(2);
}
