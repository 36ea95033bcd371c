#!/usr/bin/env bash
# Runs inside a test guest (test/vm/run.sh boots it): real drops made in two namespaces joined by a
# veth, traced by the droptrace tree shared from the host; test/vm/assert.mjs then checks what
# droptrace reported, by names, and prints one DTVM-RESULT line per scenario.
#
# droptrace is started three times at most (each start takes 8-26 s under emulation):
#   1. the stream, started before the veth module is loaded, through every scenario
#   2. the classic tracepoint (on kernels where tp_btf is the default), veth loaded by then
#   3. check --allow NO_SOCKET around a closed-port connect
set -uo pipefail
dt=/dt
out=/tmp/out
mkdir -p "$out" /run/netns
# a command, not a function: `&` then gives the PID of node itself, which SIGINT must reach
droptrace=(node "$dt/bin/droptrace.js")
now() { cut -d' ' -f1 /proc/uptime; }
step() { echo "DTVM step $* $(now)"; }
mark() { echo "$1 $(now)" >>"$out/marks"; }
py() { timeout 20 ip netns exec "$1" python3 -c "$2" "${@:3}"; }
# SIGINT, as Ctrl-C; a tracer that has not stopped 60 s later is a failure, and is killed
stop_tracer() {
  kill -INT "$1"
  for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$1" 2>/dev/null; then
    echo "DTVM $2 did not stop within 60 s of SIGINT"
    kill -KILL "$1"
  fi
  wait "$1"
  echo $? >"$out/$2.status"
}

mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up
# modprobe by hand from modules.dep (test/vm/run.sh makes it): dependencies first, .ko.xz
# decompressed to tmpfs, whatever the guest's modprobe supports
moddir=/lib/modules/$(uname -r)
declare -A loaded
load_module() {
  local rel deps dep f
  rel=$(grep -E "(^|/)$1\.ko(\.xz|\.zst)?:" "$moddir/modules.dep" | head -1)
  [ -n "$rel" ] || return 0 # built in, or not built
  deps=${rel#*:}
  rel=${rel%%:*}
  [ -n "${loaded[$rel]:-}" ] && return 0
  loaded[$rel]=1
  for dep in $deps; do
    dep=${dep##*/}
    load_module "${dep%%.ko*}"
  done
  f="$moddir/$rel"
  case "$f" in
    *.xz) xz -dc "$f" >/tmp/mod.ko && f=/tmp/mod.ko ;;
    *.zst) zstd -dc "$f" >/tmp/mod.ko && f=/tmp/mod.ko ;;
  esac
  insmod "$f" 2>/dev/null
  return 0
}
# iptables-nft and the qdisc; veth comes later, after droptrace started
for m in crc32c_generic nfnetlink libcrc32c nf_tables nft_compat nft_counter x_tables xt_tcpudp sch_netem; do load_module "$m"; done
uname -r >"$out/kernel"
[ -e /sys/kernel/btf/veth ] || grep -qw veth /proc/modules && echo yes >"$out/veth_at_start" || echo no >"$out/veth_at_start"

step reasons
"${droptrace[@]}" reasons --json >"$out/reasons.json" 2>"$out/reasons.err"
echo $? >"$out/reasons.status"

step stream
mark stream_exec
"${droptrace[@]}" --json >"$out/stream.ndjson" 2>"$out/stream.err" &
stream_pid=$!
for _ in $(seq 1 600); do
  grep -q '"type":"start"' "$out/stream.ndjson" 2>/dev/null && break
  kill -0 "$stream_pid" 2>/dev/null || break
  sleep 0.2
done
mark stream_started
# idle, no Docker on this guest: droptrace's own connect to the engine socket retries meanwhile
sleep 4
mark idle_end

step veth
load_module veth
ip netns add dtvm-a
ip netns add dtvm-b
ip link add dtvm-va netns dtvm-a type veth peer name dtvm-vb netns dtvm-b
ip -n dtvm-a addr add 10.77.0.1/24 dev dtvm-va
ip -n dtvm-b addr add 10.77.0.2/24 dev dtvm-vb
for n in a b; do ip -n "dtvm-$n" link set lo up; ip -n "dtvm-$n" link set "dtvm-v$n" up; done
for n in a b; do stat -L -c %i "/run/netns/dtvm-$n" >"$out/netns_$n"; done
sleep 1

step tcp_closed
mark tcp_closed
ip netns exec dtvm-a bash -c 'exec 3<>/dev/tcp/10.77.0.2/9' 2>/dev/null

step udp_closed
mark udp_closed
py dtvm-a 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", ("10.77.0.2", 7)) for _ in range(3)]'

step rcvbuf
mark rcvbuf
py dtvm-b '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.bind(("10.77.0.2", 5001))
open("/tmp/out/rcvbuf.ready", "w").close()
time.sleep(8)' &
sink=$!
# python starts slowly under emulation: wait for the socket, up to 20 s
for _ in $(seq 1 200); do [ -e "$out/rcvbuf.ready" ] && break; sleep 0.1; done
py dtvm-a 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"y" * 1000, ("10.77.0.2", 5001)) for _ in range(100)]'
wait "$sink"

step iptables
mark iptables
ip netns exec dtvm-b iptables -A INPUT -p udp --dport 5002 -j DROP
py dtvm-a 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"z", ("10.77.0.2", 5002)) for _ in range(5)]'

step retransmit
mark retransmit
ip netns exec dtvm-b iptables -A INPUT -p tcp --dport 5003 -j DROP
# SYN, then retransmits at 1 s and 3 s into the DROP rule
ip netns exec dtvm-a timeout 4 bash -c 'exec 3<>/dev/tcp/10.77.0.2/5003' 2>/dev/null

step netem
mark netem
timeout 20 ip netns exec dtvm-a tc qdisc add dev dtvm-va root netem loss 30% 2>"$out/netem.err"
echo $? >"$out/netem.status"
py dtvm-a 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"n" * 100, ("10.77.0.2", 5004)) for _ in range(60)]'
timeout 20 ip netns exec dtvm-a tc qdisc del dev dtvm-va root 2>/dev/null
step netem_done
sleep 1
mark scenarios_end

step stream_stop
stop_tracer "$stream_pid" stream

# the classic tracepoint, where tp_btf is what auto picks; before 5.17 auto already is the
# tracepoint, and asking for tp_btf is a coded error
if grep -q '"program":"tp_btf"' "$out/stream.ndjson"; then
  step tracepoint
  mark tp_exec
  "${droptrace[@]}" --json --attach tracepoint >"$out/tp.ndjson" 2>"$out/tp.err" &
  tp_pid=$!
  for _ in $(seq 1 600); do
    grep -q '"type":"start"' "$out/tp.ndjson" 2>/dev/null && break
    kill -0 "$tp_pid" 2>/dev/null || break
    sleep 0.2
  done
  mark tp_started
  ip netns exec dtvm-a bash -c 'exec 3<>/dev/tcp/10.77.0.2/9' 2>/dev/null
  py dtvm-a 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"z", ("10.77.0.2", 5002)) for _ in range(3)]'
  sleep 1
  stop_tracer "$tp_pid" tp
else
  step tp_btf_refused
  "${droptrace[@]}" --json --attach tp_btf --duration 1 >"$out/tp_btf.ndjson" 2>"$out/tp_btf.err"
  echo $? >"$out/tp_btf.status"
fi

step check
mark check_exec
# a command that succeeds and makes only closed-port drops (a TCP connect refused, UDP to a closed port)
timeout 300 "${droptrace[@]}" check --json --allow NO_SOCKET -- ip netns exec dtvm-a python3 -c '
import socket
t = socket.socket()
t.settimeout(5)
print("tcp connect:", t.connect_ex(("10.77.0.2", 9)))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
[u.sendto(b"c", ("10.77.0.2", 9)) for _ in range(3)]' >"$out/check.ndjson" 2>"$out/check.err"
echo $? >"$out/check.status"
mark check_end

step assert
node "$dt/test/vm/assert.mjs" "$out" && exit 0
for f in "$out"/*.err; do [ -s "$f" ] && { echo "DTVM --- $(basename "$f")"; tail -n 15 "$f" | sed 's/^/DTVM | /'; }; done
exit 1
