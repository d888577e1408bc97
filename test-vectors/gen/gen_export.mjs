// Node half of the key-export vector generator (see ../export/README.md).
//
//   node gen_export.mjs [--fresh-sessions]   make sessions (if needed) + Element and wasm vectors
//   node gen_export.mjs --check              cross-check manifest vectors with Element and wasm
//
// Generate mode writes the plaintexts and the Element/wasm .txt files to ../export/ and a
// list of manifest entries to .build/node-vectors.json; gen_export.py merges that into
// manifest.json. Check mode reads ../export/manifest.json and prints one line per
// (vector, peer) and writes .build/node-check.json.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as P from "./peers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, "..", "export");
const BUILD = join(here, ".build");
mkdirSync(BUILD, { recursive: true });

export const PASS_ASCII = "correct horse battery staple";
export const PASS_UNICODE = "pässwörd 🔑 日本語";
export const PASS_CAFE = "café";

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

// ------------------------------------------------------------ plaintexts
async function makeSessions() {
  const W = await P.wasm();
  const machine = await W.OlmMachine.initialize(new W.UserId("@alice:example.org"), new W.DeviceId("ALICEDEVICE"));
  // room -> [number of sessions, history visibility]
  const rooms = [
    ["!alpha:example.org", 3, W.HistoryVisibility.Shared],
    ["!beta:example.org", 2, W.HistoryVisibility.Shared],
    ["!gamma:example.org", 2, W.HistoryVisibility.Joined],
  ];
  for (const [room, n, vis] of rooms) {
    const rid = new W.RoomId(room);
    for (let i = 0; i < n; i++) {
      const settings = new W.EncryptionSettings();
      settings.historyVisibility = vis;
      await machine.shareRoomKey(rid, [], settings);
      // Send a few messages so the outbound ratchet has advanced; the export still
      // carries the inbound copy from index 0.
      for (let k = 0; k <= i; k++) {
        await machine.encryptRoomEvent(rid, "m.room.message", JSON.stringify({ msgtype: "m.text", body: `msg ${k}` }));
      }
      await machine.invalidateGroupSession(rid);
    }
  }
  return machine.exportRoomKeys(() => true);
}

function extraFrom(basicText) {
  const sessions = JSON.parse(basicText);
  sessions.forEach((s, i) => {
    // The shared-history flag in its three spellings (one per session: the wasm
    // peer treats the MSC3061 name as an alias and rejects a session with both).
    const shared = s["m.shared_history"];
    if (i % 3 === 0) { delete s["m.shared_history"]; s["org.matrix.msc3061.shared_history"] = shared; }
    if (i % 3 === 2) { delete s["m.shared_history"]; s.shared_history = shared; }
    if (i % 2 === 1) s.untrusted = true;
    if (i < 2) s.x_future_field = { nested: [1, 2.5, "é"] };
  });
  // Pretty-printed with a trailing newline, unlike the compact basic file, so readers
  // see both layouts.
  return JSON.stringify(sessions, null, 2) + "\n";
}

async function plaintexts(fresh) {
  const basicPath = join(OUT, "sessions-basic.json");
  const extraPath = join(OUT, "sessions-extra.json");
  if (fresh || !existsSync(basicPath)) {
    const basic = await makeSessions();
    writeFileSync(basicPath, basic);
    writeFileSync(extraPath, extraFrom(basic));
    console.log("made fresh sessions with the wasm OlmMachine");
  } else if (!existsSync(extraPath)) {
    writeFileSync(extraPath, extraFrom(readFileSync(basicPath, "utf8")));
  }
  return {
    "sessions-basic.json": readFileSync(basicPath, "utf8"),
    "sessions-extra.json": readFileSync(extraPath, "utf8"),
  };
}

// ------------------------------------------------------------- generate
async function generate(fresh) {
  const pts = await plaintexts(fresh);
  const E = P.elementMadeBy, Wm = P.wasmMadeBy;
  const plan = [
    // file, maker, rounds, passphrase, plaintext, comment
    ["element-web-r500000.txt", "element", 500000, PASS_ASCII, "sessions-basic.json",
      "Element Web's default rounds; its layout: 128-char lines (96-byte chunks base64'd separately), final newline"],
    ["element-web-r1000.txt", "element", 1000, PASS_ASCII, "sessions-basic.json", "Element Web layout at low rounds"],
    ["element-web-r1000-unicode.txt", "element", 1000, PASS_UNICODE, "sessions-basic.json",
      "non-ASCII passphrase (umlauts, emoji, CJK), keyed with its UTF-8 bytes"],
    ["element-web-r1000-cafe.txt", "element", 1000, PASS_CAFE, "sessions-basic.json",
      "'café' keyed with UTF-8 bytes (63 61 66 c3 a9); pair of nio-r10000-cafe-latin1.txt"],
    ["element-web-r1000-extra.txt", "element", 1000, PASS_ASCII, "sessions-extra.json",
      "sessions with unknown/extra fields that must survive a round trip"],
    ["wasm-r100000.txt", "wasm", 100000, PASS_ASCII, "sessions-basic.json",
      "matrix-rust-sdk layout: one unwrapped base64 line, no final newline"],
    ["wasm-r1.txt", "wasm", 1, PASS_ASCII, "sessions-basic.json", "a single PBKDF2 round is legal and must be accepted"],
    ["wasm-r1000-unicode.txt", "wasm", 1000, PASS_UNICODE, "sessions-basic.json",
      "non-ASCII passphrase, keyed with its UTF-8 bytes"],
    ["wasm-r1000-extra.txt", "wasm", 1000, PASS_ASCII, "sessions-extra.json",
      "sessions with unknown/extra fields given to wasm"],
  ];
  const entries = [];
  for (let [file, maker, rounds, pass, pt, comment] of plan) {
    const t0 = Date.now();
    const bytes = maker === "element"
      ? await P.elementEncrypt(pts[pt], pass, rounds)
      : await P.wasmEncrypt(pts[pt], pass, rounds);
    writeFileSync(join(OUT, file), bytes);
    let ptName = pt, ptText = pts[pt];
    if (maker === "wasm") {
      // matrix-rust-sdk parses the JSON and encrypts its own re-serialisation: recover
      // the bytes it really encrypted (with Element's decrypt, which returns them as-is).
      const actual = await P.elementDecrypt(bytes, pass);
      if (actual !== ptText) {
        ptName = pt.replace(/\.json$/, "-wasm.json");
        writeFileSync(join(OUT, ptName), actual);
        ptText = actual;
        comment += `; wasm re-serialised ${pt} before encrypting (plaintext is what it really encrypted: ` +
          `org.matrix.msc3061.shared_history renamed to m.shared_history, plain shared_history, untrusted and x_future_field dropped)`;
        console.log(`  wasm did not encrypt ${pt} as given; wrote ${ptName}`);
      }
    }
    console.log(`wrote ${file} (${bytes.length} bytes, ${Date.now() - t0} ms)`);
    entries.push({
      file, made_by: maker === "element" ? E : Wm, passphrase: pass, expect: "ok",
      plaintext: ptName, plaintext_sha256: sha256(Buffer.from(ptText, "utf8")),
      passphrase_encoding: "utf-8", rounds, comment,
    });
  }
  writeFileSync(join(BUILD, "node-vectors.json"), JSON.stringify(entries, null, 2) + "\n");
}

// ---------------------------------------------------------------- check
function makerOf(v) {
  if (v.made_by.startsWith("matrix-react-sdk")) return "element";
  if (v.made_by.startsWith("@matrix-org/matrix-sdk-crypto-wasm")) return "wasm";
  if (v.made_by.startsWith("matrix-nio")) return "nio";
  return "gen";
}

async function check() {
  const manifest = JSON.parse(readFileSync(join(OUT, "manifest.json"), "utf8"));
  const results = [];
  const peers = { element: P.elementDecrypt, wasm: P.wasmDecrypt };
  for (const v of manifest.vectors) {
    for (const [peer, decrypt] of Object.entries(peers)) {
      // A file derived from a peer's output (armor variant, flip) was still made by it:
      // the maker field says "<peer> ..., then ..." so makerOf finds it.
      if (makerOf(v) === peer) continue;
      const bytes = readFileSync(join(OUT, v.file));
      let status, detail;
      if ((v.rounds ?? 0) > 1_000_000) {
        // Neither peer caps the rounds: it would run 2^32-1 PBKDF2 iterations.
        console.log(`bad-vector ${peer.padEnd(7)} skipped  ${v.file}: not tried, ${v.rounds} rounds`);
        continue;
      }
      try {
        const out = await decrypt(bytes, v.passphrase);
        if (v.expect === "ok") {
          const want = readFileSync(join(OUT, v.plaintext), "utf8");
          const d = P.sameSessions(want, out);
          if (!d) { status = "ok"; detail = "plaintext matches"; }
          else { status = "differs"; detail = d; }
        } else {
          status = "accepted"; detail = `returned ${out.length} chars`;
        }
      } catch (e) {
        status = "rejected"; detail = String(e?.message ?? e);
      }
      results.push({ file: v.file, peer, expect: v.expect, status, detail });
      console.log(`${v.expect === "ok" ? "ok-vector " : "bad-vector"} ${peer.padEnd(7)} ${status.padEnd(8)} ${v.file}: ${detail}`);
    }
  }
  writeFileSync(join(BUILD, "node-check.json"), JSON.stringify(results, null, 2) + "\n");
}

const args = process.argv.slice(2);
if (args.includes("--check")) await check();
else await generate(args.includes("--fresh-sessions"));
