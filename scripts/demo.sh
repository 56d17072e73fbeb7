#!/usr/bin/env bash
# The main job: builds synwarden and demonstrates it.
# Stage 1 (engine): shows the SYN-ACK a protected host's kernel would send for a sample SYN, and
# that the final ACK of that handshake checks valid while a forged one does not.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_BUILD_DIR:-$root/build}
SYNWARDEN_BUILD_DIR="$build" bash "$root/scripts/build.sh"
ctl="$build/userspace/ctl/synwardenctl"
secrets="$root/tests/unit/data/secrets_per_connection.json"

echo "== SYN 198.51.100.7:40000 -> 192.0.2.10:80, ISN 12345, MSS 1460, WS 7, SACK, TS 1000, ECN"
synack=$("$ctl" cookie synack --secrets "$secrets" --src 198.51.100.7:40000 --dst 192.0.2.10:80 \
         --isn 12345 --mss 1460 --wscale 7 --sack --tsval 1000 --ecn)
echo "$synack"
seq=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seq"])' "$synack")
tsval=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tsval"])' "$synack")
echo "== final ACK of that handshake"
good=$("$ctl" cookie check --secrets "$secrets" --src 198.51.100.7:40000 --dst 192.0.2.10:80 \
       --seq 12346 --ack $(( (seq + 1) & 0xffffffff )) --tsecr "$tsval")
echo "$good"
echo "== forged ACK (cookie off by 0x01000000)"
bad=$("$ctl" cookie check --secrets "$secrets" --src 198.51.100.7:40000 --dst 192.0.2.10:80 \
      --seq 12346 --ack $(( (seq + 1 + 0x01000000) & 0xffffffff )) --tsecr "$tsval")
echo "$bad"
python3 - "$good" "$bad" <<'PY'
import json, sys
good, bad = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ok = good["valid"] and not bad["valid"]
print(f"demo: engine {'ok' if ok else 'FAILED'}: genuine ACK valid={good['valid']}, forged ACK valid={bad['valid']}")
sys.exit(0 if ok else 1)
PY
