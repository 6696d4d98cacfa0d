#!/usr/bin/env bash
# Runs an IoT test suite against a local AWS IoT Core: installs tether from source, starts
# `tether serve --ephemeral` (fresh data directory, free ports, removed at exit), reads its
# readiness record, exports what AWS clients read from the environment, runs the suite, and
# stops the server. Works on a CI runner or a laptop; docs/testing.md explains each step.
#
#   docs/examples/ci/run-tests.sh [SUITE_DIR]        default: docs/examples/ci/tests
#
#   TETHER_BIN=PATH   use this tether binary instead of installing one from source
#   PYTHON=PATH       the Python with pytest, boto3 and awsiotsdk (default: python3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
suite=${1:-$here/tests}
python=${PYTHON:-python3}

# 1. Install tether from source (this repository; `cargo install --git URL tether` elsewhere).
if [ -z "${TETHER_BIN:-}" ]; then
    cargo install --locked --path "$repo/crates/cli" --root "$HOME/.local"
    TETHER_BIN=$HOME/.local/bin/tether
fi
"$TETHER_BIN" --version

# 2. Start it. The ready line is its first line on stdout: `read` blocks until it arrives
#    (no polling), and the readiness record is written just before it. --exit-with-parent
#    ends the server if this script dies without cleaning up.
work=$(mktemp -d)
ready=$work/ready.json
exec 3< <(exec "$TETHER_BIN" serve --ephemeral --ready-file "$ready" --exit-with-parent \
    2> "$work/tether.log")
tether_pid=$!
stop() {
    kill -TERM "$tether_pid" 2>/dev/null || true
    # A clean exit removes the server's data directory and the readiness record.
    wait "$tether_pid" || echo "tether exited with status $?; its log: $(cat "$work/tether.log")" >&2
    rm -rf "$work"
}
trap stop EXIT
if ! read -r -t 60 -u 3 line || [[ $line != "tether ready "* ]]; then
    echo "tether did not start; its log:" >&2
    cat "$work/tether.log" >&2
    exit 1
fi
echo "$line"

# 3. The environment the suite's AWS clients read: boto3, the AWS CLI and the SDKs honour
#    AWS_ENDPOINT_URL, so code written for AWS IoT Core runs unchanged. The MQTT endpoint and
#    the demo device's files are for device code.
eval "$("$python" - "$ready" <<'PY'
import json, shlex, sys
record = json.load(open(sys.argv[1]))
mqtts = record["endpoints"]["mqtts"]
demo = record["demo_device"]
env = {
    "AWS_ENDPOINT_URL": record["api_url"],
    "AWS_ACCESS_KEY_ID": record["credentials"]["access_key_id"],
    "AWS_SECRET_ACCESS_KEY": record["credentials"]["secret_access_key"],
    "AWS_REGION": record["region"],
    "AWS_DEFAULT_REGION": record["region"],
    "IOT_ENDPOINT": mqtts["host"],
    "IOT_PORT": mqtts["port"],
    "IOT_ROOT_CA": record["root_ca"],
    "IOT_DEMO_CERT": demo["certificate"],
    "IOT_DEMO_KEY": demo["private_key"],
}
for name, value in env.items():
    print(f"export {name}={shlex.quote(str(value))}")
PY
)"
# Keep the machine's own AWS configuration out of the suite.
export AWS_CONFIG_FILE=$work/aws-config AWS_SHARED_CREDENTIALS_FILE=$work/aws-credentials
unset AWS_PROFILE AWS_SESSION_TOKEN

# 4. Run the suite.
PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -p no:cacheprovider "$suite"
