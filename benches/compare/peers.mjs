// The Node peers of benches/compare/run.sh, each timed inside this process. The peers are loaded
// through the helpers of test-vectors/gen (which load them from those folders' node_modules,
// installed by their install.sh); nothing is installed or copied here.
//
//   node peers.mjs export-decrypt element|wasm FILE OUT REPS BUDGET
//   node peers.mjs pbkdf2 ROUNDS REPS BUDGET
//   node peers.mjs backup-decrypt wasm PRIV_B64 BACKUP OUT REPS BUDGET
//   node peers.mjs to-export wasm PRIV_B64 BACKUP OUT ROUNDS REPS BUDGET   (new passphrase: MXKEYS_NEW_PASSPHRASE)
//   node peers.mjs merge wasm A.json B.json OUT REPS BUDGET
//   node peers.mjs attachment-decrypt mea-node|mea-webcrypto|wasm CT INFO OUT REPS BUDGET
//   node peers.mjs attachment-encrypt mea-node|mea-webcrypto|wasm IN OUT INFO_OUT REPS BUDGET
//
// Secrets come from MXKEYS_PASSPHRASE. Each timed run goes from reading the input file to having
// written the output file, without Node's start and module loading (wasm is initialised before).
// Runs repeat REPS times, or until BUDGET seconds have been spent. Prints one JSON line:
// {"peer", "times": [...] (wall seconds), "cpu": [...] (user + system seconds of the process, all
// threads), "count", "max_rss_kb"} (max_rss_kb: the whole process).
import { pbkdf2Sync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const gen = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test-vectors", "gen");

const cpu = []; // user + system seconds of this process (all threads) per run

async function repeat(fn, reps, budget) {
  const times = [];
  let result;
  let spent = 0;
  while (times.length < reps && (times.length === 0 || spent < budget)) {
    const t = process.hrtime.bigint();
    const c = process.cpuUsage();
    result = await fn();
    const u = process.cpuUsage(c);
    cpu.push((u.user + u.system) / 1e6);
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    times.push(s);
    spent += s;
  }
  return { times, result };
}

function report(peer, times, count) {
  console.log(JSON.stringify({ peer, times, cpu, count, max_rss_kb: process.resourceUsage().maxRSS }));
}

async function exportDecrypt(peer, file, out, reps, budget) {
  const P = await import(join(gen, "peers.mjs"));
  const pass = process.env.MXKEYS_PASSPHRASE;
  let decrypt, name;
  if (peer === "element") {
    P.element();
    decrypt = P.elementDecrypt;
    name = `Element Web (matrix-react-sdk ${P.elementVersion} MegolmExportEncryption, Node ${process.versions.node} WebCrypto)`;
  } else if (peer === "wasm") {
    await P.wasm();
    decrypt = P.wasmDecrypt;
    name = `@matrix-org/matrix-sdk-crypto-wasm ${P.wasmVersion} OlmMachine.decryptExportedRoomKeys`;
  } else throw new Error(`unknown peer ${peer}`);
  const { times, result } = await repeat(async () => {
    const plain = await decrypt(readFileSync(file), pass);
    const n = JSON.parse(plain).length;
    writeFileSync(out, plain);
    return n;
  }, reps, budget);
  report(name, times, result);
}

async function pbkdf2(rounds, reps, budget) {
  const { times } = await repeat(
    () => pbkdf2Sync("correct horse battery staple", Buffer.alloc(16, 7), rounds, 64, "sha512"),
    reps, budget);
  report(`Node ${process.versions.node} crypto.pbkdf2Sync (OpenSSL ${process.versions.openssl})`, times, rounds);
}

// Every session of a backup body, decrypted with wasm's BackupDecryptionKey, in export form.
function decryptBackup(W, privB64, backup) {
  const key = W.BackupDecryptionKey.fromBase64(privB64);
  const doc = JSON.parse(readFileSync(backup, "utf8"));
  const sessions = [];
  for (const [room, body] of Object.entries(doc.rooms)) {
    for (const [sid, kbd] of Object.entries(body.sessions)) {
      const sd = kbd.session_data;
      const s = JSON.parse(key.decryptV1(sd.ephemeral, sd.mac, sd.ciphertext));
      s.room_id = room;
      s.session_id = sid;
      sessions.push(s);
    }
  }
  key.free();
  return sessions;
}

async function backupDecrypt(peer, privB64, backup, out, reps, budget) {
  if (peer !== "wasm") throw new Error(`unknown peer ${peer}`);
  const { W, WASM } = await import(join(gen, "backup", "peers.mjs"));
  const { times, result } = await repeat(() => {
    const sessions = decryptBackup(W, privB64, backup);
    writeFileSync(out, JSON.stringify(sessions));
    return sessions.length;
  }, reps, budget);
  report(`${WASM} BackupDecryptionKey.decryptV1`, times, result);
}

async function mergeWasm(a, b, out, reps, budget) {
  const { W, WASM } = await import(join(gen, "backup", "peers.mjs"));
  const { times, result } = await repeat(async () => {
    // A fresh device with the in-memory store (no store name): what a client's import does,
    // then its export.
    const m = await W.OlmMachine.initialize(new W.UserId("@bench:example.org"), new W.DeviceId("BENCH"));
    for (const f of [a, b]) await m.importExportedRoomKeys(readFileSync(f, "utf8"), () => {});
    const text = await m.exportRoomKeys(() => true);
    writeFileSync(out, text);
    m.free();
    return JSON.parse(text).length;
  }, reps, budget);
  report(`${WASM} OlmMachine (in-memory store): importExportedRoomKeys of both files, then exportRoomKeys`, times, result);
}

async function toExportWasm(privB64, backup, out, rounds, reps, budget) {
  const { W, WASM } = await import(join(gen, "backup", "peers.mjs"));
  const pass = process.env.MXKEYS_NEW_PASSPHRASE;
  const { times, result } = await repeat(() => {
    const sessions = decryptBackup(W, privB64, backup);
    writeFileSync(out, W.OlmMachine.encryptExportedRoomKeys(JSON.stringify(sessions), pass, rounds));
    return sessions.length;
  }, reps, budget);
  report(`${WASM} BackupDecryptionKey.decryptV1 per session, then OlmMachine.encryptExportedRoomKeys`, times, result);
}

async function attachment(op, peer, a, b, c, reps, budget) {
  const A = await import(join(gen, "attachment", "peers.mjs"));
  if (peer === "wasm") await A.encrypt("wasm", Buffer.alloc(16)); // initialise outside the timer
  const { times, result } = await repeat(async () => {
    if (op === "decrypt") {
      const file = A.pickFile(JSON.parse(readFileSync(b, "utf8")));
      const plain = await A.decrypt(peer, readFileSync(a), file);
      writeFileSync(c, plain);
      return plain.length;
    }
    const r = await A.encrypt(peer, readFileSync(a));
    writeFileSync(b, r.data);
    writeFileSync(c, JSON.stringify(r.info));
    return r.data.length;
  }, reps, budget);
  const name = A.madeBy[peer];
  report(op === "decrypt" ? name.replace("encryptAttachment", "decryptAttachment").replace("Attachment.encrypt", "Attachment.decrypt") : name, times, result);
}

const [op, ...r] = process.argv.slice(2);
const num = (i) => Number(r[i]);
if (op === "export-decrypt") await exportDecrypt(r[0], r[1], r[2], num(3), num(4));
else if (op === "pbkdf2") await pbkdf2(num(0), num(1), num(2));
else if (op === "backup-decrypt") await backupDecrypt(r[0], r[1], r[2], r[3], num(4), num(5));
else if (op === "merge" && r[0] === "wasm") await mergeWasm(r[1], r[2], r[3], num(4), num(5));
else if (op === "to-export" && r[0] === "wasm") await toExportWasm(r[1], r[2], r[3], num(4), num(5), num(6));
else if (op === "attachment-decrypt" || op === "attachment-encrypt")
  await attachment(op.split("-")[1], r[0], r[1], r[2], r[3], num(4), num(5));
else {
  console.error("usage: see the head of benches/compare/peers.mjs");
  process.exitCode = 2;
}
