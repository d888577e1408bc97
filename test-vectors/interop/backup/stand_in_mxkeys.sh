#!/usr/bin/env bash
# See stand_in_mxkeys.py: the reference behind the mxkeys CLI contract, for testing backup.sh.
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../../gen/backup/.venv/bin/python" "$here/stand_in_mxkeys.py" "$@"
