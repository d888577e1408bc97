"""Wraps an EncryptedFile JSON in a whole decrypted m.room.message event (m.file content).

  python3 wrap_event.py FILE.json EVENT.json NAME
"""

import json
import sys

file_json, event_json, name = sys.argv[1:]
with open(file_json) as f:
    file = json.load(f)
file.setdefault("url", f"mxc://example.org/{name}")
event = {
    "type": "m.room.message",
    "content": {"msgtype": "m.file", "body": name, "file": file},
    "event_id": f"$interop_{name}",
    "sender": "@alice:example.org",
    "room_id": "!interop:example.org",
    "origin_server_ts": 1700000000000,
    "unsigned": {},
}
with open(event_json, "w") as f:
    json.dump(event, f, indent=2)
