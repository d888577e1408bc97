"""Helpers for test-vectors/interop/ssss.sh (standard library only).

    check.py mxkeys-decrypt STDOUT EXPECTED.json       mxkeys `ssss decrypt --json` output has every
                                                      expected secret: {name: {"secret": plaintext}}
    check.py peer-decrypt STDOUT EXPECTED.json         a peer's {name: plaintext} has every expected secret
    check.py written IN.json OUT.json NAME KEY_ID      what `mxkeys ssss encrypt` wrote: NAME encrypted under
                                                      KEY_ID with the spec's field shapes, all other
                                                      account data unchanged
    check.py expect IDENTITY.json OUT.json [NAME VALUE]
                                                      expected secrets: the identity's, NAME set to VALUE
    check.py events IN.json OUT.json                   {type: content} -> [{type, content}]
    check.py value OUT                                 writes unpadded base64 of 32 random bytes (no newline)
    check.py field JSON KEY...                         prints a field of a JSON file (for the shell)
"""

import base64
import json
import os
import sys


def load(p):
    with open(p, encoding="utf-8") as f:
        return json.load(f)


def account(p):
    v = load(p)
    return {e["type"]: e["content"] for e in v} if isinstance(v, list) else v


def b64d(s):
    if not isinstance(s, str):
        raise ValueError(f"not a string: {s!r}")
    return base64.b64decode(s + "=" * (-len(s) % 4), validate=True)


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def compare(got, expected, extract):
    problems = []
    for name, value in expected.items():
        if name not in got:
            problems.append(f"{name}: missing")
            continue
        try:
            v = extract(got[name])
        except Exception as e:
            problems.append(f"{name}: {e}")
            continue
        if v != value:
            problems.append(f"{name}: got {v!r}, expected {value!r}")
    if problems:
        fail("; ".join(problems))


def main(a):
    cmd = a[0]
    if cmd == "mxkeys-decrypt":
        with open(a[1], encoding="utf-8") as f:
            text = f.read()
        try:
            got = json.loads(text)
        except ValueError as e:
            fail(f"stdout is not JSON: {e}: {text[:200]!r}")
        if not isinstance(got, dict):
            fail("stdout is not a JSON object")

        def secret(v):
            if not isinstance(v, dict) or "secret" not in v:
                raise ValueError(f"no \"secret\" in {v!r}")
            return v["secret"]

        compare(got, load(a[2]), secret)
    elif cmd == "peer-decrypt":
        compare(load(a[1]), load(a[2]), lambda v: v)
    elif cmd == "written":
        before, after, name, key_id = account(a[1]), account(a[2]), a[3], a[4]
        for t, c in before.items():
            if t != name and after.get(t) != c:
                fail(f"{t} changed or dropped")
        extra = set(after) - set(before) - {name}
        if extra:
            fail(f"unexpected new account data: {sorted(extra)}")
        enc = (after.get(name) or {}).get("encrypted", {}).get(key_id)
        if not isinstance(enc, dict):
            fail(f"{name} has no encrypted entry for {key_id}")
        try:
            iv, mac, ct = b64d(enc["iv"]), b64d(enc["mac"]), b64d(enc["ciphertext"])
        except Exception as e:
            fail(f"{name}: bad field: {e}")
        if len(iv) != 16 or iv[8] & 0x80:
            fail(f"{name}: iv must be 16 bytes with bit 63 clear, got {iv.hex()}")
        if len(mac) != 32:
            fail(f"{name}: mac must be 32 bytes, got {len(mac)}")
        if not ct:
            fail(f"{name}: empty ciphertext")
    elif cmd == "expect":
        secrets = dict(load(a[1])["secrets"])
        if len(a) > 3:
            with open(a[4], encoding="utf-8") as f:
                secrets[a[3]] = f.read()
        with open(a[2], "w", encoding="utf-8") as f:
            json.dump(secrets, f)
    elif cmd == "events":
        with open(a[2], "w", encoding="utf-8") as f:
            json.dump([{"type": t, "content": c} for t, c in account(a[1]).items()], f, indent=2)
    elif cmd == "value":
        with open(a[1], "w", encoding="utf-8") as f:
            f.write(base64.b64encode(os.urandom(32)).decode().rstrip("="))
    elif cmd == "field":
        v = load(a[1])
        for k in a[2:]:
            v = v[int(k)] if isinstance(v, list) else v[k]
        print(v if isinstance(v, str) else json.dumps(v))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
