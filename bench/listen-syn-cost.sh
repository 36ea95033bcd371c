#!/usr/bin/env bash
# Cost per call of the tp_btf/consume_skb program (SYNs refused by a full listener queue), from the
# kernel's own BPF run-time statistics: on the host as it is, under a consume_skb-heavy load (a unix
# stream socket pair: every skb read is consumed) and under listener SYNs (connects to a listener
# that accepts, in a namespace of its own).
# kernel.bpf_stats_enabled is host-wide: it is switched on for the measurement and put back.
set -euo pipefail
cd "$(dirname "$0")/.."
ns=dtau-bench-$$
old=$(cat /proc/sys/kernel/bpf_stats_enabled)
echo "kernel.bpf_stats_enabled was $old (put back on exit)"
cleanup() {
  echo "$old" > /proc/sys/kernel/bpf_stats_enabled
  [ -n "${dt:-}" ] && kill -INT "$dt" 2>/dev/null && wait "$dt" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
node bin/droptrace.js --json --netns "$ns" > /dev/null 2>&1 &
dt=$!
for _ in $(seq 50); do bpftool prog show name listen_syn_btf > /dev/null 2>&1 && break; sleep 0.1; done
# the newest program of that name is ours (other tracers on the machine may run their own)
id=$(bpftool prog show name listen_syn_btf | awk -F: '/^[0-9]+:/ {print $1}' | sort -n | tail -1)
stats() { bpftool prog show id "$id" | grep -o 'run_time_ns [0-9]* run_cnt [0-9]*' || echo 'run_time_ns 0 run_cnt 0'; }
echo 1 > /proc/sys/kernel/bpf_stats_enabled
read -r _ ta _ ca <<< "$(stats)"
sleep 3
read -r _ t0 _ c0 <<< "$(stats)"
echo "whole host, 3 s as it is: $((c0 - ca)) consume_skb calls, $(( (t0 - ta) / (c0 - ca > 0 ? c0 - ca : 1) )) ns per call"
python3 -c '
import socket
a, b = socket.socketpair()
for _ in range(200000):
    a.send(b"x" * 64); b.recv(64)
'
read -r _ t1 _ c1 <<< "$(stats)"
echo "unix stream ping-pong (each read skb is consumed): $((c1 - c0)) consume_skb calls, $(( (t1 - t0) / (c1 - c0 > 0 ? c1 - c0 : 1) )) ns per call (location compare only)"
ip netns exec "$ns" python3 -c '
import socket, threading
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4096); port = l.getsockname()[1]
def acc():
    while True:
        c, _ = l.accept(); c.close()
threading.Thread(target=acc, daemon=True).start()
for _ in range(3000):
    s = socket.create_connection(("127.0.0.1", port)); s.close()
'
read -r _ t2 _ c2 <<< "$(stats)"
echo "3000 accepted connects: $((c2 - c1)) consume_skb calls, $(( (t2 - t1) / (c2 - c1 > 0 ? c2 - c1 : 1) )) ns per call (listener SYNs read three per-CPU counters)"
