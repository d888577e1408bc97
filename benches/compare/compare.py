"""Driver of benches/compare/run.sh (standard library only): generates the inputs, times mxkeys
and the peers one after another (never two at once), checks every output, and writes the
markdown report to stdout and to benches/compare/last-run.md.

Environment: MXKEYS_BIN (the release binary), WORK (an empty scratch folder, ideally tmpfs; its
files are removed at the end), SESSIONS
(default 10000), ATTACHMENT_MIB (default 1024), REPS (default 3), OUT (default last-run.md
next to this file).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
GEN = ROOT / "test-vectors" / "gen"
BIN = os.environ.get("MXKEYS_BIN", str(ROOT / "target" / "release" / "mxkeys"))
WORK = Path(os.environ.get("WORK") or tempfile.mkdtemp(prefix="mxkeys-compare."))
N = int(os.environ.get("SESSIONS", "10000"))
ATT_MIB = int(os.environ.get("ATTACHMENT_MIB", "1024"))
REPS = int(os.environ.get("REPS", "3"))
OUT = Path(os.environ.get("OUT", str(HERE / "last-run.md")))
PASS = "correct horse battery staple"
PY_EXPORT = str(GEN / ".venv" / "bin" / "python")
PY_BACKUP = str(GEN / "backup" / ".venv" / "bin" / "python")
PY_ATT = str(GEN / "attachment" / ".venv" / "bin" / "python")
# ONLY=backup (or a comma list of export, backup, attachment): run those sections alone; the
# report then goes to stdout only (and to OUT if given), never to last-run.md or the README.
ONLY = {s for s in os.environ.get("ONLY", "").split(",") if s}
BUDGET = 40.0  # seconds one peer may spend repeating one measurement
ATT_PEERS = {  # names for rows of peers that failed before saying who they are
    "mea-node": "matrix-encrypt-attachment lib/nodejs.js",
    "mea-webcrypto": "matrix-encrypt-attachment lib/webcrypto.js",
    "wasm": "@matrix-org/matrix-sdk-crypto-wasm Attachment",
    "nio": "matrix-nio attachments",
}

def want(section: str) -> bool:
    return not ONLY or section in ONLY


rows: list[tuple[str, str, str, str, str]] = []  # what, mxkeys, peer, ratio of walls, of CPU times
limits: list[tuple[str, str, str, str]] = []
rss_rows: list[tuple[str, str, str, str]] = []
notes: list[str] = []


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e["MXKEYS_PASSPHRASE"] = PASS
    e.update(extra)
    return e


def fmt_s(s: float) -> str:
    if s >= 10:
        return f"{s:.1f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 0.01:
        return f"{s * 1000:.0f} ms"
    return f"{s * 1000:.1f} ms"


def fmt_mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MB"


class M:
    """Best wall time and best CPU time (user + system, all threads) over several runs."""

    def __init__(self, wall: float, cpu: float):
        self.wall, self.cpu = wall, cpu

    def __sub__(self, other: "M") -> "M":
        return M(max(self.wall - other.wall, 1e-9), max(self.cpu - other.cpu, 1e-9))

    def cell(self) -> str:
        return f"{fmt_s(self.wall)} ({fmt_s(self.cpu)} CPU)"


def timed(cmd: list[str], extra_env: dict[str, str] | None, reps: int, before, label: str) -> tuple[M, int]:
    """Run a command `reps` times under /usr/bin/time -v: best wall, best CPU (from the rusage of
    the children), peak RSS of its largest process."""
    wall, cpu, rss = float("inf"), float("inf"), 0
    tfile = WORK / "time.txt"
    for _ in range(reps):
        if before:
            before()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", str(tfile), *cmd], env=env(**(extra_env or {})),
                           capture_output=True, text=True)
        w = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise SystemExit(f"{label} failed ({p.returncode}): {p.stderr.strip()}")
        wall = min(wall, w)
        cpu = min(cpu, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tfile.read_text())
        rss = max(rss, int(m.group(1)) if m else 0)
    return M(wall, cpu), rss


def mxkeys(label: str, args: list[str], reps: int = REPS, extra_env: dict[str, str] | None = None,
           before=None) -> M:
    """The whole command (process start to exit), best of `reps` runs; records its peak RSS."""
    m, rss = timed([BIN, *args], extra_env, reps, before, f"mxkeys {' '.join(args)}")
    shown = " ".join(a if not a.startswith("/") else Path(a).name for a in args)
    rss_rows.append((label, f"mxkeys {shown}", m.cell(), fmt_mb(rss)))
    log(f"mxkeys {label}: {m.cell()}, peak RSS {fmt_mb(rss)}")
    return m


def peer(cmd: list[str], reps: int = REPS, budget: float = BUDGET, extra_env: dict[str, str] | None = None) -> dict:
    """Run a helper (peers.mjs / peers.py), which times itself; returns its JSON line + best."""
    p = subprocess.run([*cmd, str(reps), str(budget)], env=env(**(extra_env or {})), capture_output=True, text=True)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines() or ["no output"]
        err = next((ln.strip() for ln in lines if re.match(r"\s*(\w*Error|ERROR|Killed|Aborted)\b", ln)), lines[-1])
        return {"error": f"exit {p.returncode}: {err[:200]}"}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["best"] = M(min(r["times"]), min(r["cpu"]))
    log(f"  {r['peer']}: {r['best'].cell()} (runs: {', '.join(fmt_s(t) for t in r['times'])}), peak RSS {fmt_mb(r['max_rss_kb'])}")
    return r


def ratio(peer_m: M, mx: M) -> tuple[str, str]:
    return f"{peer_m.wall / mx.wall:.2f}", f"{peer_m.cpu / mx.cpu:.2f}"


def row(what: str, mx: M, r: dict, check=None, name: str = "") -> None:
    if "error" in r:
        rows.append((f"{what} — {name}" if name else what, mx.cell(), f"failed: {r['error']}", "-", "-"))
        log(f"  FAILED {what}: {r['error']}")
        return
    problem = check(r) if check else None
    if problem:
        rows.append((f"{what} — {r['peer']}", mx.cell(), f"{r['best'].cell()}, wrong output: {problem}", "-", "-"))
        log(f"  WRONG OUTPUT {r['peer']}: {problem}")
        return
    rows.append((f"{what} — {r['peer']}", mx.cell(), r["best"].cell(), *ratio(r["best"], mx)))


def shell(label: str, script: str, reps: int, before=None) -> tuple[M, int]:
    """A bash script: best wall and CPU, and the peak RSS of its largest process."""
    m, rss = timed(["bash", "-c", script], None, reps, before, label)
    log(f"  {label}: {m.cell()}")
    return m, rss


def rm(*paths: Path):
    def f():
        for p in paths:
            p.unlink(missing_ok=True)
    return f


def b64d(s: str) -> bytes:
    return base64.b64decode(s.replace("-", "+").replace("_", "/") + "=" * (-len(s) % 4))


def base58_decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = 0
    for c in text:
        n = n * 58 + alphabet.index(c)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def openssl_speed(alg: str) -> float:
    """Bytes/s of one core on 16 KiB blocks (openssl speed -evp, machine-readable output)."""
    p = subprocess.run(["openssl", "speed", "-mr", "-seconds", "3", "-bytes", "16384", "-evp", alg],
                       capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        if line.startswith("+F:"):
            return float(line.split(":")[3])
    raise SystemExit(f"no result from openssl speed -evp {alg}: {p.stdout} {p.stderr}")


def count_sessions(path: Path) -> int:
    return len(json.loads(path.read_text()))


# ---------------------------------------------------------------------------------------------
def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if any(WORK.iterdir()):
        raise SystemExit(f"{WORK} is not empty; give an empty or new folder")
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()

    # ---------------------------------------------------------------- hardware limits
    log("hardware limits (openssl speed, one core)")
    sha512 = openssl_speed("sha512")
    aes = openssl_speed("aes-256-ctr")
    sha256 = openssl_speed("sha256")
    compressions = sha512 / 128
    # PBKDF2-HMAC-SHA-512 with a 64-byte key: one block, one HMAC per round, 2 compressions each.
    pbkdf2_floor = 2 * 500_000 / compressions
    att_limit = 1 / (1 / aes + 1 / sha256)

    # ---------------------------------------------------------------- inputs
    log(f"inputs: {N} sessions with real megolm keys, exports, backup, {ATT_MIB} MiB file")
    sessions = WORK / "sessions.json"
    subprocess.run([PY_EXPORT, str(HERE / "peers.py"), "gen-sessions", str(N), str(sessions)], check=True)
    r500k, r1 = WORK / "export-r500000.txt", WORK / "export-r1.txt"
    mxkeys(f"export encrypt, {N} sessions, 500000 rounds", ["export", "encrypt", str(sessions), "-o", str(r500k), "--rounds", "500000"], reps=1)
    mxkeys(f"export encrypt, {N} sessions, 1 round", ["export", "encrypt", str(sessions), "-o", str(r1), "--rounds", "1"], reps=1)
    rk = json.loads(subprocess.run([BIN, "recovery-key", "generate", "--json"], capture_output=True, text=True, check=True).stdout)
    raw = base58_decode(rk["recovery_key"].replace(" ", ""))
    priv_b64 = base64.b64encode(raw[2:34]).decode().rstrip("=")
    backup = WORK / "backup.json"
    mxkeys(f"backup encrypt, {N} sessions", ["backup", "encrypt", str(sessions), "--public-key", rk["public_key"], "-o", str(backup)], reps=1)
    if want("attachment"):
        big = WORK / "big.bin"
        with open(big, "wb") as f:
            for _ in range(ATT_MIB):
                f.write(os.urandom(1 << 20))
        big_sha = sha256_file(big)

    def sessions_ok(path: Path):
        def check(r: dict):
            if r.get("count") != N:
                return f"{r.get('count')} sessions"
            return None if count_sessions(path) == N else "output file differs"
        return check

    size = f"{ATT_MIB} MiB" if ATT_MIB < 1024 else f"{ATT_MIB // 1024} GiB"
    peer_rss: dict[str, list[str]] = {}
    # ---------------------------------------------------------------- export decrypt
    if want("export"):
        for rounds, file in (("500000 rounds", r500k), ("1 round", r1)):
            what = f"export decrypt, {N} sessions, {rounds}"
            log(what)
            out = WORK / "out.json"
            mx = mxkeys(what, ["export", "decrypt", str(file), "-o", str(out)], before=rm(out))
            if count_sessions(out) != N:
                raise SystemExit("mxkeys export decrypt wrote the wrong number of sessions")
            if file == r500k:
                t500k = mx
            else:
                t1 = mx
            for cmd in ([PY_EXPORT, str(HERE / "peers.py"), "export-decrypt", "nio"],
                        ["node", str(HERE / "peers.mjs"), "export-decrypt", "element"],
                        ["node", str(HERE / "peers.mjs"), "export-decrypt", "wasm"]):
                pout = WORK / "peer-out.json"
                # nio's PBKDF2 runs a Python loop: one run is enough to see it.
                reps = 1 if ("nio" in cmd and file == r500k) else REPS
                row(what, mx, peer([*cmd, str(file), str(pout)], reps=reps), sessions_ok(pout))

        # ---------------------------------------------------------------- PBKDF2
        log("PBKDF2-HMAC-SHA-512, 500000 rounds")
        kdf = t500k - t1
        what = "PBKDF2-HMAC-SHA-512, 500000 rounds, one derivation (mxkeys: export decrypt at 500000 rounds minus at 1 round)"
        # One derivation in OpenSSL (Python, Node) and in the pbkdf2 crate: compared here with
        # mxkeys' own single derivation, and below with the passphrase search per candidate.
        ossl = peer([sys.executable, str(HERE / "peers.py"), "pbkdf2", "500000"])
        node = peer(["node", str(HERE / "peers.mjs"), "pbkdf2", "500000"])
        row(what, kdf, ossl)
        row(what, kdf, node)
        p = subprocess.run([BIN, "bench", "kdf", "--json", "--seconds", "3", "--rounds", "500000", "--single"],
                           capture_output=True, text=True)
        crate = None
        try:
            rate = next(x for x in json.loads(p.stdout)["results"] if x["threads"] == 1)["derivations_per_s"]
            crate = {"peer": "the `pbkdf2` crate 0.12 + `sha2` 0.10, one derivation at a time (`mxkeys bench kdf --single`, "
                             "what mxkeys uses to decrypt one file)", "best": M(1 / rate, 1 / rate)}
            notes.append(f"`mxkeys bench kdf --single` (1 thread) on the same run: {rate:.2f} derivations/s "
                         f"of 500000 rounds = {fmt_s(1 / rate)} each.")
        except (ValueError, KeyError, StopIteration, TypeError, ZeroDivisionError):
            notes.append(f"`mxkeys bench kdf --single --json` gave no 1-thread figure: {p.stderr.strip()[:200]}")
        limits.append(("SHA-512 compressions/s, one core (`openssl speed -evp sha512`, 16 KiB blocks)",
                       f"{compressions / 1e6:.2f} M/s ({sha512 / 1e9:.2f} GB/s)",
                       f"PBKDF2 500000 rounds = 1,000,000 compressions ≥ {fmt_s(pbkdf2_floor)} CPU; mxkeys {fmt_s(kdf.cpu)} CPU",
                       f"{pbkdf2_floor / kdf.cpu * 100:.0f}%"))

        # ---------------------------------------------------------------- passphrase search
        # A real search: SEARCH_CANDIDATES lines against the 500000-round export, the right passphrase
        # last (so every candidate is derived and the result is checked), on 1 thread and on all.
        # Per candidate against one derivation of each peer: the rate a search would reach with it.
        cands = int(os.environ.get("SEARCH_CANDIDATES", "128"))
        wordlist = WORK / "candidates.txt"
        wordlist.write_text("".join(f"wrong guess {i}\n" for i in range(cands - 1)) + PASS + "\n")
        found = WORK / "found.txt"

        def search(threads: int) -> M:
            label = f"passphrase search, {cands} candidates, export at 500000 rounds, {threads} thread{'s' if threads > 1 else ''}"
            log(label)
            m = mxkeys(label, ["passphrase", "search", str(r500k), "--candidates", str(wordlist), "--threads", str(threads),
                               "-o", str(found)], reps=1, before=rm(found))
            if found.read_text().strip() != PASS:
                raise SystemExit("mxkeys passphrase search did not find the passphrase")
            return M(m.wall / cands, m.cpu / cands)

        s1 = search(1)
        sn = search(cores := os.cpu_count() or 1)
        per = "PBKDF2-HMAC-SHA-512 at 500000 rounds, time per candidate"
        for label, mx in ((f"{per}: mxkeys passphrase search on 1 thread (SIMD lanes) vs one derivation on one core", s1),
                          (f"{per}: mxkeys passphrase search on all {cores} cores vs one derivation on one core", sn)):
            for r in (ossl, node, crate):
                if r is not None:
                    row(label, mx, r)
        limits.append(("SHA-512 compressions/s, one core, one stream (as above)", f"{compressions / 1e6:.2f} M/s",
                       f"passphrase search on 1 thread: {1 / s1.cpu:.1f} candidates/s of CPU time = "
                       f"{1 / s1.cpu:.1f} M compressions/s (1,000,000 per candidate) in SIMD lanes",
                       f"{1e6 / s1.cpu / compressions:.2f}x the one-stream limit"))

        # ---------------------------------------------------------------- hashcat (#24)
        # The same target and wordlist through hashcat with mxkeys' module 94100 (hashcat/build.sh),
        # on each OpenCL device type present: the CPU (POCL here) and, when there is one, a GPU,
        # named. Per candidate = (time for the whole list - time for the passphrase alone) /
        # (candidates - 1), so hashcat's start-up and self-test drop out; a first run compiles the
        # kernel and is not counted.
        hc = ROOT / "hashcat" / "build" / "hashcat" / "hashcat"
        if not hc.exists():
            notes.append("hashcat rows skipped: run hashcat/build.sh (needs Debian's hashcat and an OpenCL runtime).")
        else:
            line = subprocess.run([BIN, "passphrase", "hashline", str(r500k)], capture_output=True, text=True,
                                  check=True).stdout
            target = WORK / "target.hash"
            target.write_text(line)
            one = WORK / "one.txt"
            one.write_text(PASS + "\n")
            pot = WORK / "hashcat.potfile"
            version = subprocess.run([str(hc), "--version"], capture_output=True, text=True).stdout.strip()
            info = subprocess.run([str(hc), "-I"], capture_output=True, text=True).stdout
            devices = []  # (hashcat -D type, name)
            for block in re.split(r"\n(?=\s*Backend Device ID #)", info):
                kind = re.search(r"Type\.+:\s*(\w+)", block)
                name = re.search(r"Name\.+:\s*(.+)", block)
                if kind and name and kind.group(1) in ("CPU", "GPU"):
                    t = "1" if kind.group(1) == "CPU" else "2"
                    if all(d[0] != t for d in devices):
                        devices.append((t, f"{kind.group(1)} {name.group(1).strip()}"))
            for dtype, dname in devices:
                def run(words: Path) -> M:
                    m, _ = timed([str(hc), "-m", "94100", "-a", "0", "-D", dtype, "--quiet", "--potfile-path", str(pot),
                                  str(target), str(words)], None, 1, rm(pot), f"hashcat -D {dtype}")
                    if not pot.read_text().rstrip("\n").endswith(":" + PASS):
                        raise SystemExit(f"hashcat -D {dtype} did not find the passphrase")
                    return m
                log(f"hashcat {version} mode 94100 on {dname}: warm-up (kernel compile)")
                run(one)
                full, alone = run(wordlist), run(one)
                per_hc = M(max(full.wall - alone.wall, 1e-9) / (cands - 1), max(full.cpu - alone.cpu, 1e-9) / (cands - 1))
                log(f"  hashcat per candidate: {per_hc.cell()} ({1 / per_hc.wall:.1f} candidates/s)")
                row(f"{per}: mxkeys passphrase search on all {cores} cores vs hashcat on the same list", sn,
                    {"peer": f"hashcat {version} with mxkeys' module 94100, {dname} (OpenCL), its default workload",
                     "best": per_hc})
                notes.append(f"hashcat {version} mode 94100 on {dname}: {1 / per_hc.wall:.1f} candidates/s at 500000 rounds "
                             f"({fmt_s(per_hc.wall)} per candidate; mxkeys on all {cores} cores: {1 / sn.wall:.1f}/s).")

    # ---------------------------------------------------------------- backup
    what = f"backup decrypt, {N} sessions"
    log(what)
    out = WORK / "out.json"
    mx1 = mxkeys(f"{what}, 1 thread", ["backup", "decrypt", str(backup), "-o", str(out)], before=rm(out),
                 extra_env={"MXKEYS_RECOVERY_KEY": rk["recovery_key"], "RAYON_NUM_THREADS": "1"})
    if count_sessions(out) != N:
        raise SystemExit("mxkeys backup decrypt wrote the wrong number of sessions")
    cores = os.cpu_count() or 1
    mxn = mxkeys(f"{what}, {cores} threads", ["backup", "decrypt", str(backup), "-o", str(out)], before=rm(out),
                 extra_env={"MXKEYS_RECOVERY_KEY": rk["recovery_key"]})
    for cmd in (["node", str(HERE / "peers.mjs"), "backup-decrypt", "wasm"],
                [PY_BACKUP, str(HERE / "peers.py"), "backup-decrypt", "vodozemac"],
                [PY_BACKUP, str(HERE / "peers.py"), "backup-decrypt", "olm"]):
        pout = WORK / "peer-out.json"
        r = peer([*cmd, priv_b64, str(backup), str(pout)])
        row(f"{what} (mxkeys on 1 thread; the peers use 1)", mx1, r, sessions_ok(pout))
        row(f"{what} (mxkeys on all {cores} cores)", mxn, r, sessions_ok(pout))

    # backup to-export: decrypt every session and write an export, beside wasm's
    # BackupDecryptionKey loop followed by encryptExportedRoomKeys.
    def export_ok(path: Path, n: int):
        def check(r: dict):
            o = WORK / "check.json"
            o.unlink(missing_ok=True)
            p = subprocess.run([BIN, "export", "decrypt", str(path), "-o", str(o)], env=env(),
                               capture_output=True, text=True)
            ok = p.returncode == 0 and count_sessions(o) == n
            o.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            return None if ok else f"mxkeys cannot read it as an export of {n} sessions"
        return check

    what = f"backup to-export, {N} sessions, export at 1000 rounds"
    log(what)
    xout = WORK / "to-export.txt"
    new_pass = {"MXKEYS_RECOVERY_KEY": rk["recovery_key"], "MXKEYS_NEW_PASSPHRASE": PASS}
    mxt = mxkeys(what, ["backup", "to-export", str(backup), "-o", str(xout), "--rounds", "1000"],
                 before=rm(xout), extra_env=new_pass)
    pout = WORK / "peer-export.txt"
    r = peer(["node", str(HERE / "peers.mjs"), "to-export", "wasm", priv_b64, str(backup), str(pout), "1000"],
             extra_env={"MXKEYS_NEW_PASSPHRASE": PASS})
    row(what, mxt, r, export_ok(pout, N))

    # export merge has no peer: wasm imports both files into a fresh OlmMachine (in-memory
    # store) and exports again, which is what merging with a client amounts to.
    all_sessions = json.loads(sessions.read_text())
    a, b = WORK / "merge-a.json", WORK / "merge-b.json"
    a.write_text(json.dumps(all_sessions[: 3 * N // 4]))
    b.write_text(json.dumps(all_sessions[N // 4:]))
    what = f"export merge, 2 x {3 * N // 4} sessions ({N // 2} in both), JSON in and out"
    log(what)
    mout = WORK / "merged.json"
    mxm = mxkeys(what, ["export", "merge", str(a), str(b), "-o", str(mout), "--plaintext"], before=rm(mout))
    if count_sessions(mout) != N:
        raise SystemExit("mxkeys export merge wrote the wrong number of sessions")
    pout = WORK / "peer-merged.json"
    row(what, mxm, peer(["node", str(HERE / "peers.mjs"), "merge", "wasm", str(a), str(b), str(pout)]),
        sessions_ok(pout))

    # ---------------------------------------------------------------- attachments
    if want("attachment"):
        def size_of(mib: int) -> str:
            return f"{mib} MiB" if mib < 1024 else f"{mib // 1024} GiB"

        def attachments(plain: Path, mib: int, peers_att: list[tuple[list[str], str]]) -> tuple[M, M, Path, Path, list[str]]:
            """mxkeys encrypt and decrypt of `plain`, then each peer both ways; returns mxkeys' times,
            its ciphertext and info, and the peers that failed."""
            size, want = size_of(mib), sha256_file(plain)
            enc, info, plain_out = WORK / f"{plain.stem}.enc", WORK / f"{plain.stem}.info.json", WORK / f"{plain.stem}.out"
            what = f"attachment encrypt, {size}"
            log(what)
            mx_enc = mxkeys(what, ["attachment", "encrypt", str(plain), "-o", str(enc), "--info-out", str(info)], before=rm(enc, info))
            what_d = f"attachment decrypt + SHA-256 check, {size}"
            log(what_d)
            mx_dec = mxkeys(what_d, ["attachment", "decrypt", str(enc), "--info", str(info), "-o", str(plain_out)], before=rm(plain_out))
            if sha256_file(plain_out) != want:
                raise SystemExit("mxkeys attachment decrypt output differs from the input")
            plain_out.unlink()

            def same_file(path: Path):
                def check(r: dict):
                    ok = path.exists() and sha256_file(path) == want
                    path.unlink(missing_ok=True)
                    return None if ok else "output differs from the original file"
                return check

            def roundtrip(penc: Path, pinfo: Path):
                """A peer's encryption is right if mxkeys decrypts it to the original."""
                def check(r: dict):
                    o = WORK / "check.out"
                    o.unlink(missing_ok=True)
                    p = subprocess.run([BIN, "attachment", "decrypt", str(penc), "--info", str(pinfo), "-o", str(o)], capture_output=True, text=True)
                    ok = p.returncode == 0 and sha256_file(o) == want
                    o.unlink(missing_ok=True)
                    penc.unlink(missing_ok=True)
                    return None if ok else "mxkeys cannot decrypt it to the original"
                return check

            failed = []
            for base, name in peers_att:
                reps = min(REPS, 2)
                pout = WORK / "peer.out"
                r = peer([*base, "attachment-decrypt", name, str(enc), str(info), str(pout)], reps=reps, budget=30)
                row(what_d, mx_dec, r, same_file(pout), ATT_PEERS[name])
                if "error" in r:
                    failed.append(name)
                else:
                    peer_rss.setdefault(f"{name} ({size})", []).append(f"decrypt {fmt_mb(r['max_rss_kb'])}")
                penc, pinfo = WORK / "peer.enc", WORK / "peer.info.json"
                r = peer([*base, "attachment-encrypt", name, str(plain), str(penc), str(pinfo)], reps=reps, budget=30)
                row(what, mx_enc, r, roundtrip(penc, pinfo), ATT_PEERS[name])
                if "error" in r:
                    failed.append(name)
                else:
                    peer_rss.setdefault(f"{name} ({size})", []).append(f"encrypt {fmt_mb(r['max_rss_kb'])}")
            return mx_enc, mx_dec, enc, info, failed

        node, py = ["node", str(HERE / "peers.mjs")], [PY_ATT, str(HERE / "peers.py")]
        size = size_of(ATT_MIB)
        what, what_d = f"attachment encrypt, {size}", f"attachment decrypt + SHA-256 check, {size}"
        mx_enc, mx_dec, enc, info, failed = attachments(
            big, ATT_MIB, [(node, "mea-node"), (node, "mea-webcrypto"), (node, "wasm"), (py, "nio")])
        # The shell: openssl enc (128-bit counter; the same as v2's 64-bit one while the low 64 bits
        # do not wrap, which mxkeys' fresh IVs guarantee) and sha256sum, one after the other.
        file = json.loads(info.read_text())
        key_hex, iv_hex = b64d(file["key"]["k"]).hex(), b64d(file["iv"]).hex()
        hash_hex = b64d(file["hashes"]["sha256"]).hex()
        sh_out = WORK / "shell.out"
        dec_script = (f'h=$(sha256sum < "{enc}" | cut -d" " -f1) && [ "$h" = {hash_hex} ] && '
                      f'openssl enc -d -aes-256-ctr -K {key_hex} -iv {iv_hex} -in "{enc}" -out "{sh_out}"')
        t, rss = shell("sha256sum + openssl enc -d", dec_script, min(REPS, 2), before=rm(sh_out))
        ok = sha256_file(sh_out) == big_sha
        sh_out.unlink()
        rows.append((f"{what_d} — shell: `sha256sum` then `openssl enc -d -aes-256-ctr` (OpenSSL CLI)", mx_dec.cell(),
                     t.cell() if ok else "wrong output", *(ratio(t, mx_dec) if ok else ("-", "-"))))
        peer_rss["shell (largest process)"] = [f"decrypt {fmt_mb(rss)}"]
        sh_enc = WORK / "shell.enc"
        enc_script = (f'openssl enc -aes-256-ctr -K {key_hex} -iv {iv_hex} -in "{big}" -out "{sh_enc}" && '
                      f'sha256sum "{sh_enc}" > /dev/null')
        t, _ = shell("openssl enc + sha256sum", enc_script, min(REPS, 2), before=rm(sh_enc))
        ok = sha256_file(sh_enc) == sha256_file(enc)  # same key and IV as mxkeys' ciphertext
        sh_enc.unlink()
        rows.append((f"{what} — shell: `openssl enc -aes-256-ctr` then `sha256sum`", mx_enc.cell(),
                     t.cell() if ok else "wrong output", *(ratio(t, mx_enc) if ok else ("-", "-"))))

        # wasm32 has at most 4 GiB of memory: a peer that fails at the full size is measured again on
        # the first SMALL_MIB of the file (against mxkeys on the same bytes).
        small_mib = 256
        retry = sorted(set(failed))
        if retry and ATT_MIB > small_mib:
            small = WORK / "small.bin"
            with open(big, "rb") as src, open(small, "wb") as dst:
                dst.write(src.read(small_mib << 20))
            notes.append(f"{', '.join(retry)} failed on {size} (see the table); measured again on the first {small_mib} MiB.")
            _, _, senc, sinfo, _ = attachments(small, small_mib, [(node if n != "nio" else py, n) for n in retry])
            for p in (small, senc, sinfo):
                p.unlink(missing_ok=True)

        gbs = ATT_MIB * (1 << 20) / 1e9
        limits.append(("AES-256-CTR, one core (`openssl speed -evp aes-256-ctr`)", f"{aes / 1e9:.2f} GB/s", "", ""))
        limits.append(("SHA-256, one core (`openssl speed -evp sha256`)", f"{sha256 / 1e9:.2f} GB/s", "", ""))
        limits.append(("AES-256-CTR then SHA-256 on one core: 1 / (1/AES + 1/SHA-256)", f"{att_limit / 1e9:.2f} GB/s",
                       f"mxkeys attachment decrypt {gbs / mx_dec.cpu:.2f} GB/s of CPU time ({gbs / mx_dec.wall:.2f} GB/s wall), "
                       f"encrypt {gbs / mx_enc.cpu:.2f} GB/s ({gbs / mx_enc.wall:.2f} wall); whole command, reading and writing files on {WORK.parent}",
                       f"{gbs / mx_dec.cpu / (att_limit / 1e9) * 100:.0f}% / {gbs / mx_enc.cpu / (att_limit / 1e9) * 100:.0f}%"))

    # ---------------------------------------------------------------- report
    load_end = os.getloadavg()
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
                           capture_output=True, text=True).stdout.strip()
    binary = os.environ.get("MXKEYS_BIN_LABEL") or (f"built from {git}" + (" with uncommitted changes in src/ or Cargo.*" if dirty else ""))
    elapsed = datetime.datetime.now(datetime.timezone.utc) - started
    md = [
        "# mxkeys against other implementations",
        "",
        f"- machine: {cpu}, {os.cpu_count()} cores (`nproc`: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}), "
        f"{platform.system()} {platform.release()}",
        f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')}, took {int(elapsed.total_seconds() // 60)} min {int(elapsed.total_seconds() % 60)} s; "
        f"load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end",
        f"- mxkeys: `{BIN}`, {binary}",
        f"- tools: Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}, "
        f"{subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.strip()}, Python {platform.python_version()} (driver)",
        f"- inputs: {N} sessions with real megolm keys (random ratchets, fresh Ed25519 keys); exports of them written by "
        f"mxkeys at 500000 and 1 rounds; a backup of them written by `mxkeys backup encrypt`; {size} of random bytes. "
        f"Files on {WORK.parent}.",
        "- mxkeys: the whole command (process start, reading, checking, writing the output file with fsync), "
        f"best of {REPS}. Peers: timed inside their process, from reading the input file to having written the output "
        "(without starting Node/Python and loading modules), best of up to "
        f"{REPS} runs (matrix-nio at 500000 rounds: 1; attachments: 2, or 1 when a run takes over 30 s). Every output is checked: session "
        "counts, and for attachments the SHA-256 of the plaintext (peer encryptions are decrypted by mxkeys).",
        "- Each time is wall clock, then (in brackets) CPU time: user + system of the whole process, all threads. "
        "Wall time depends on what else the machine runs (see the load average); CPU time much less. "
        "For mxkeys on several threads CPU time adds up the threads.",
        "- ratio = peer time / mxkeys time, of wall times and of CPU times: above 1, mxkeys is faster (or does less work).",
        "",
        "| what | mxkeys | peer | ratio (wall) | ratio (CPU) |",
        "|---|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows],
        "",
        "## Hardware limits, measured in the same run",
        "",
        "| limit (`openssl speed` measures CPU time) | value | what it means here | mxkeys reaches (CPU time) |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in limits],
        "",
        "## Peak memory (RSS) of each mxkeys command",
        "",
        "| command | arguments | best wall (CPU) | peak RSS |",
        "|---|---|---|---|",
        *[f"| {a} | `{b}` | {c} | {d} |" for a, b, c, d in rss_rows],
        "",
        "Peak RSS of the peers on the attachments (whole process, interpreter included): "
        + "; ".join(f"{k}: {', '.join(v)}" for k, v in peer_rss.items()) + ".",
        "",
        *[f"- {n}" for n in notes],
        "",
    ]
    text = "\n".join(md)
    if not ONLY or "OUT" in os.environ:
        OUT.write_text(text)
    print(text)
    if not ONLY and os.environ.get("README_UPDATE", "1") != "0":
        readme_table(cpu, started, load_start, load_end, binary)
    for p in WORK.iterdir():
        p.unlink()


README_BEGIN = "<!-- benches/compare/run.sh: begin (generated, do not edit) -->"
README_END = "<!-- benches/compare/run.sh: end -->"


def readme_table(cpu: str, started: datetime.datetime, load_start, load_end, binary: str) -> None:
    """Replace the table between README_BEGIN and README_END in README.md with this run's
    comparisons, ratios first (the full report, limits and memory stay in last-run.md)."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        log("README.md has no benches/compare markers; not updated")
        return
    lines = [
        README_BEGIN,
        f"Measured by `benches/compare/run.sh` on {cpu}, {os.cpu_count()} cores, "
        f"{started.strftime('%Y-%m-%d %H:%M UTC')} (load average {load_start[0]:.1f} at the start, "
        f"{load_end[0]:.1f} at the end); mxkeys {binary}. Ratio = other's time / mxkeys' time: "
        "above 1, mxkeys is faster. Full report with the hardware limits and the peak memory of every "
        "command: [benches/compare/last-run.md](benches/compare/last-run.md).",
        "",
        "| ratio (CPU) | ratio (wall) | what — compared with | mxkeys | other |",
        "|---|---|---|---|---|",
        *[f"| {e} | {d} | {a} | {b} | {c} |" for a, b, c, d, e in rows],
        README_END,
    ]
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(head + "\n".join(lines) + tail)
    log("README.md: Performance table updated")


if __name__ == "__main__":
    main()
