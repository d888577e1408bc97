// The same check as dehydrated.mjs, for sessions taken out of an MSC4268 room key bundle:
//   node test-vectors/interop/bundle.mjs KEYS.json ROOM_EVENTS.json
// (e.g. KEYS.json = what mxkeys writes from test-vectors/bundle/bundle.bin + info.json with
// --plaintext; ROOM_EVENTS.json = test-vectors/bundle/room-events.json).
import "./dehydrated.mjs";
