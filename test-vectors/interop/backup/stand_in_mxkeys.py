"""A stand-in for the mxkeys binary, implementing only the CLI contract backup.sh checks, with the
reference (test-vectors/gen/backup/refbackup.py). It exists to test the peer halves of backup.sh
before mxkeys has these commands:  MXKEYS_BIN=test-vectors/interop/backup/stand_in_mxkeys.sh

  recovery-key generate --json            {"recovery_key", "public_key"}
  recovery-key check --json               key from $MXKEYS_RECOVERY_KEY -> {"public_key"}
  backup encrypt SESSIONS.json --public-key PUB -o OUT.json
  backup decrypt BACKUP.json -o OUT.json  key from $MXKEYS_RECOVERY_KEY -> export-format array
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "gen" / "backup"))
import refbackup as ref  # noqa: E402


def opt(args, name):
    i = args.index(name)
    return args[i + 1]


def main(a):
    if a[:2] == ["recovery-key", "generate"]:
        priv = os.urandom(32)
        print(json.dumps({"recovery_key": ref.encode_recovery_key(priv), "public_key": ref.b64(ref.public_key(priv))}))
    elif a[:2] == ["recovery-key", "check"]:
        verdict, priv = ref.check_recovery_key(os.environ["MXKEYS_RECOVERY_KEY"])
        if verdict != "ok":
            print(json.dumps({"error": verdict}))
            return 1
        print(json.dumps({"public_key": ref.b64(ref.public_key(priv))}))
    elif a[:2] == ["backup", "encrypt"]:
        pub = ref.unb64(opt(a, "--public-key"))
        rooms = {}
        for s in json.loads(Path(a[2]).read_text()):
            pt = {k: v for k, v in s.items() if k not in ("room_id", "session_id")}
            sd = ref.encrypt(pub, json.dumps(pt, separators=(",", ":"), ensure_ascii=False).encode())
            rooms.setdefault(s["room_id"], {"sessions": {}})["sessions"][s["session_id"]] = {
                "first_message_index": int.from_bytes(ref.unb64(s["session_key"])[1:5], "big"),
                "forwarded_count": len(s["forwarding_curve25519_key_chain"]), "is_verified": False, "session_data": sd}
        Path(opt(a, "-o")).write_text(json.dumps({"rooms": rooms}))
    elif a[:2] == ["backup", "decrypt"]:
        _, priv = ref.check_recovery_key(os.environ["MXKEYS_RECOVERY_KEY"])
        out = []
        for room, r in json.loads(Path(a[2]).read_text())["rooms"].items():
            for sid, kd in r["sessions"].items():
                out.append({"room_id": room, "session_id": sid, **ref.decrypt(priv, kd["session_data"])[1]})
        Path(opt(a, "-o")).write_text(json.dumps(out))
    else:
        print(f"stand-in mxkeys: unsupported {a}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
