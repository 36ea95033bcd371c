#!/usr/bin/env bash
# A two-minute look at droptrace: two throwaway network namespaces joined by a veth, a web server
# in one, then the seed incident made for real (a 30% iptables drop, MTU 100 on the server side,
# a closed port), while droptrace streams what the kernel dropped. Everything is removed at exit.
# `scripts/demo.sh explain` runs `droptrace explain` over the same incident instead of the stream.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root" >&2; exit 1; }

id=$$
srv=dtdemo-$id-srv
cli=dtdemo-$id-cli
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$srv"
ip netns add "$cli"
ip link add "dtd${id}s" netns "$srv" type veth peer name "dtd${id}c" netns "$cli"
ip -n "$srv" addr add 10.250.0.1/24 dev "dtd${id}s"
ip -n "$cli" addr add 10.250.0.2/24 dev "dtd${id}c"
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set "dtd${id}s" up
ip -n "$cli" link set "dtd${id}c" up

ip netns exec "$srv" python3 -m http.server 8080 --bind 10.250.0.1 >/dev/null 2>&1 &
pids+=($!)
sleep 0.5

if [ "${1:-}" = explain ]; then
  echo "# droptrace explain --netns $srv --netns $cli --duration 12"
  node bin/droptrace.js explain --netns "$srv" --netns "$cli" --duration 12 &
else
  echo "# droptrace --netns $srv --netns $cli   (text; --json for NDJSON)"
  node bin/droptrace.js --netns "$srv" --netns "$cli" --duration 12 &
fi
tracer=$!
pids+=($tracer)
sleep 1

get() { ip netns exec "$cli" python3 -c '
import sys, urllib.request
for i in range(int(sys.argv[1])):
    try: urllib.request.urlopen("http://10.250.0.1:8080/", timeout=float(sys.argv[2])).read()
    except Exception: pass
' "$@"; }

echo "# 1. UDP to a closed port"
ip netns exec "$cli" python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", ("10.250.0.1", 9999)) for _ in range(3)]'
sleep 1
echo "# 2. iptables -A INPUT -p tcp --dport 8080 -m statistic --mode random --probability 0.3 -j DROP"
ip netns exec "$srv" iptables -A INPUT -p tcp --dport 8080 -m statistic --mode random --probability 0.3 -j DROP
get 5 2
sleep 1.5
ip netns exec "$srv" iptables -F INPUT
echo "# 3. MTU 100 on the server's veth: the SYN passes, the HTTP GET does not"
ip -n "$srv" link set "dtd${id}s" mtu 100
get 1 3
wait "$tracer" || true
