"""Exit 0 when two key-export JSON texts hold the same sessions with the same values.

    python same_sessions.py EXPECTED.json GOT.json

Sessions are matched by (room_id, session_id), so a peer that re-serialises in another order
still matches; every value, unknown fields included, must be equal.
"""
import json
import sys


def main() -> int:
    try:
        want = json.loads(open(sys.argv[1], "rb").read())
        got = json.loads(open(sys.argv[2], "rb").read())
    except (OSError, ValueError) as e:
        print(f"cannot read JSON: {e}", file=sys.stderr)
        return 1
    if not isinstance(got, list) or not all(isinstance(s, dict) for s in got):
        print("output is not an array of objects", file=sys.stderr)
        return 1
    key = lambda s: (s.get("room_id"), s.get("session_id"))
    w, g = {key(s): s for s in want}, {key(s): s for s in got}
    if len(w) != len(want) or len(g) != len(got) or w.keys() != g.keys():
        print(f"sessions differ: {len(want)} expected, {len(got)} got", file=sys.stderr)
        return 1
    for k, s in w.items():
        if s != g[k]:
            missing = sorted(set(s) - set(g[k]))
            extra = sorted(set(g[k]) - set(s))
            changed = sorted(f for f in set(s) & set(g[k]) if s[f] != g[k][f])
            print(f"session {k[1]} differs: missing {missing}, extra {extra}, changed {changed}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
