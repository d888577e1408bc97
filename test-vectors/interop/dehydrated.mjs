// Does matrix-sdk-crypto-wasm decrypt a timeline with the sessions mxkeys got out of a dehydrated
// device (or a room key bundle)?
//
//   node test-vectors/interop/dehydrated.mjs KEYS.json ROOM_EVENTS.json
//
// KEYS.json is a JSON array of exported sessions (the key-export format; what `mxkeys ... --plaintext`
// writes). A fresh in-memory wasm OlmMachine imports it (importExportedRoomKeys) and decrypts
// every event of ROOM_EVENTS.json (a JSON array of m.room.encrypted events with room_id) with
// decryptRoomEvent. Prints one line per event ("ok EVENT_ID SESSION_ID body" or
// "FAIL EVENT_ID SESSION_ID error"), then "N passed, M failed"; exits 1 unless every event
// decrypts, 2 on bad usage. The peer is loaded from test-vectors/gen/dehydrated/node_modules
// (test-vectors/gen/dehydrated/install.sh installs it).
import fs from "node:fs";

import { W, ALICE, decryptAll } from "../gen/dehydrated/common.mjs";

const [keysFile, eventsFile] = process.argv.slice(2);
if (!keysFile || !eventsFile) {
  console.error("usage: node dehydrated.mjs KEYS.json ROOM_EVENTS.json");
  process.exit(2);
}
const keys = fs.readFileSync(keysFile, "utf8");
const events = JSON.parse(fs.readFileSync(eventsFile, "utf8"));
if (!Array.isArray(JSON.parse(keys)) || !Array.isArray(events)) {
  console.error("error: both files must hold a JSON array");
  process.exit(2);
}

const machine = await W.OlmMachine.initialize(new W.UserId(ALICE), new W.DeviceId("INTEROPCHECK"));
const imported = await machine.importExportedRoomKeys(keys, () => {});
console.log(`imported ${imported.importedCount} of ${imported.totalCount} sessions`);
const { ok, total, lines } = await decryptAll(machine, events);
for (const l of lines) {
  console.log(l.ok ? `ok ${l.event_id} ${l.session_id} ${JSON.stringify(l.body)}` : `FAIL ${l.event_id} ${l.session_id} ${l.error}`);
}
console.log(`${ok} passed, ${total - ok} failed`);
process.exit(ok === total && total > 0 ? 0 : 1);
