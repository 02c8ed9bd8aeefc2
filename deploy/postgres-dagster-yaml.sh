#!/bin/sh
# Print dagster.yaml (default: the project's) with its documented PostgreSQL storage block switched
# on: the commented lines from `# storage:` to the next line that is not a comment lose their `# `,
# and the SQLite event log's block (`event_log_storage:` and its indented lines), which Dagster
# refuses beside `storage:`, is commented out.
# One rule for the Docker image and tests/e2e/test_postgres_storage.py, so the block that
# dagster.yaml documents is the one that is tested and deployed, and never copied by hand.
set -eu
awk '
    /^event_log_storage:/ { off = 1; print "# " $0; next }
    off && /^[[:space:]]+[^[:space:]]/ { print "# " $0; next }
    { off = 0 }
    /^# storage:[[:space:]]*$/ { on = 1; found = 1 }
    on && !/^#/ { on = 0 }
    on { sub(/^# ?/, "") }
    { print }
    END { if (!found) { print "no `# storage:` block in " FILENAME > "/dev/stderr"; exit 1 } }
' "${1:-$(dirname "$0")/../dagster.yaml}"
