"""Does mautrix-python's secret storage accept the repair bodies that `mxkeys doctor -o DIR` writes?
The mautrix half of test-vectors/interop/doctor.sh (the js-sdk/wasm half is check_repairs.mjs).
mautrix.crypto.ssss.Machine runs over an in-memory client holding the state's account data with
the repair body PUT over its event, in the order mautrix's own CrossSigningMixin.verify_with_recovery_key
uses it: get_default_key_data, KeyMetadata.verify_recovery_key, get_decrypted_account_data.
On success: one line on stdout, exit 0. On a refusal: the reasons on stderr, exit 1.

  .venv/bin/python check_repairs.py store-backup-key STATE_DIR m.megolm_backup.v1.json
       m.megolm_backup.v1 decrypts with the Security Key to exactly the 32 bytes of backup_key.txt
       (decode_base58_recovery_key)
  .venv/bin/python check_repairs.py default-key STATE_DIR m.secret_storage.default_key.json
       the default key is found, the Security Key verifies against it, and the three
       cross-signing keys and the backup key decrypt with it to the stored values
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path

from mautrix.crypto.ssss import Machine
from mautrix.crypto.ssss.util import decode_base58_recovery_key
from mautrix.errors import MNotFound

BACKUP = "m.megolm_backup.v1"
DEFAULT = "m.secret_storage.default_key"
SECRETS = ["m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing", BACKUP]


class AccountDataClient:
    """The part of mautrix.client.Client that ssss.Machine uses, over a dict of account data."""

    def __init__(self, data: dict) -> None:
        self.data = json.loads(json.dumps(data))

    async def get_account_data(self, event_type, room_id=None):
        key = str(event_type)
        if key not in self.data:
            raise MNotFound(404, f"no account data {key}")  # what the homeserver answers
        return json.loads(json.dumps(self.data[key]))

    async def set_account_data(self, event_type, data, room_id=None) -> None:
        self.data[str(event_type)] = json.loads(json.dumps(data.serialize() if hasattr(data, "serialize") else data))


def load_state(state_dir: str):
    d = Path(state_dir).resolve()
    manifest = json.loads((d.parent / "manifest.json").read_text())
    state = next((s for s in manifest["states"] if s["dir"] == d.name), None)
    if state is None:
        raise SystemExit(f"{d}: not a state of {d.parent / 'manifest.json'}")
    ad = json.loads((d / state["files"]["account_data"]).read_text())
    return d, state, ad


def unb64(s: str) -> bytes:
    return base64.b64decode(s + "=" * (-len(s) % 4))


async def open_default(ad: dict, security_key: str, why: list[str]):
    m = Machine(AccountDataClient(ad))
    try:
        key_id, meta = await m.get_default_key_data()
    except Exception as e:  # noqa: BLE001 (anything mautrix raises is a refusal)
        why.append(f"get_default_key_data: {type(e).__name__}: {e}")
        return m, None, None
    try:
        key = meta.verify_recovery_key(key_id, security_key)
    except Exception as e:  # noqa: BLE001
        why.append(f"verify_recovery_key({key_id}): {type(e).__name__}: {e}")
        return m, key_id, None
    return m, key_id, key


async def store_backup_key(state_dir: str, repair: str) -> tuple[list[str], str]:
    d, state, ad = load_state(state_dir)
    ad[BACKUP] = json.loads(Path(repair).read_text())  # PUT replaces the event's content
    want = decode_base58_recovery_key((d / "backup_key.txt").read_text().strip())
    why: list[str] = []
    m, key_id, key = await open_default(ad, (d / "recovery_key.txt").read_text().strip(), why)
    if key is None:
        return why, ""
    try:
        got = await m.get_decrypted_account_data(BACKUP, key)
    except Exception as e:  # noqa: BLE001
        return [f"get_decrypted_account_data({BACKUP}): {type(e).__name__}: {e}"], ""
    if got != want:
        why.append(f"{BACKUP} decrypts to {base64.b64encode(got).decode()}, backup_key.txt is {base64.b64encode(want).decode()}")
    return why, f"mautrix get_decrypted_account_data({BACKUP}) with the Security Key (default key {key_id}) = backup_key.txt's 32 bytes"


async def default_key(state_dir: str, repair: str) -> tuple[list[str], str]:
    d, state, ad = load_state(state_dir)
    why: list[str] = []
    # Control: before the repair mautrix finds no default key description.
    try:
        await Machine(AccountDataClient(ad)).get_default_key_data()
        why.append("control: before the repair get_default_key_data already succeeds")
    except Exception:  # noqa: BLE001
        pass
    ad[DEFAULT] = json.loads(Path(repair).read_text())
    m, key_id, key = await open_default(ad, (d / "recovery_key.txt").read_text().strip(), why)
    if key is None:
        return why, ""
    opened = 0
    for name in SECRETS:
        try:
            got = await m.get_decrypted_account_data(name, key)
        except Exception as e:  # noqa: BLE001
            why.append(f"get_decrypted_account_data({name}): {type(e).__name__}: {e}")
            continue
        if got != unb64(state["expected"]["secret_values"][name]):
            why.append(f"{name} decrypts to another value")
        else:
            opened += 1
    return why, f"mautrix get_default_key_data -> {key_id}, verify_recovery_key accepts the Security Key, {opened} secrets decrypt"


def main() -> None:
    commands = {"store-backup-key": store_backup_key, "default-key": default_key}
    if len(sys.argv) != 4 or sys.argv[1] not in commands:
        print(f"usage: {sys.argv[0]} store-backup-key|default-key STATE_DIR REPAIR.json", file=sys.stderr)
        raise SystemExit(2)
    try:
        why, summary = asyncio.run(commands[sys.argv[1]](sys.argv[2], sys.argv[3]))
    except Exception as e:  # noqa: BLE001 (unreadable repair file, ...)
        why, summary = [f"error: {type(e).__name__}: {e}"], ""
    if why:
        for w in why:
            print(w, file=sys.stderr)
        raise SystemExit(1)
    print(summary)


if __name__ == "__main__":
    main()
