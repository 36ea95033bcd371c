#!/usr/bin/env bash
# npm run bench: builds the storm, sets up the namespaces once, runs the drop-storm bench and the
# start-up bench, and tears everything down on exit, failure and Ctrl-C included.
#
# Environment: BENCH_ROUNDS (3), BENCH_DURATION (5 s per storm), BENCH_CPU (last CPU),
# BENCH_ONLY (comma-separated condition names), BENCH_HOSTS (quiet,busy), BENCH_RSS_DURATION
# (60 s: one long storm per droptrace stream for peak RSS; 0 skips it), BENCH_STARTUP_RUNS (10),
# BENCH_IDLE (10 s).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root (network namespaces, iptables, BPF); try: sudo npm run bench" >&2
	exit 1
fi
missing=()
for tool in cc ip iptables node taskset; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench: missing ${missing[*]}" >&2
	exit 1
fi
for tool in bpftrace perf; do
	command -v "$tool" >/dev/null || echo "bench: $tool not installed: its condition will be skipped" >&2
done
[ -e bin/droptrace.js ] || echo "bench: bin/droptrace.js missing: droptrace conditions will be skipped" >&2

mkdir -p bench/.output
cc -O2 -Wall -Wextra -o bench/.output/storm bench/storm.c
# the floor and the C consumer of droptrace's ring buffer (needs its skeleton: npm run build:bpf)
bash bench/c/build.sh || echo "bench: the C consumers did not build: floor and c-consumer will be skipped" >&2

name="dtbench-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() {
	bash bench/netns.sh down "$name"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

bash bench/netns.sh up "$name" >/dev/null

only=()
[ -n "${BENCH_ONLY:-}" ] && only=(--only "$BENCH_ONLY")
node bench/run.mjs --netns "$name" --rounds "${BENCH_ROUNDS:-3}" --duration "${BENCH_DURATION:-5}" \
	--hosts "${BENCH_HOSTS:-quiet,busy}" ${BENCH_CPU:+--cpu "$BENCH_CPU"} "${only[@]}"
rss=${BENCH_RSS_DURATION:-60}
if [ "$rss" != 0 ]; then
	node bench/run.mjs --netns "$name" --rounds 1 --duration "$rss" --hosts quiet \
		--only droptrace-stream,droptrace-full --out bench/.output/rss.json ${BENCH_CPU:+--cpu "$BENCH_CPU"}
fi
node bench/startup.mjs --netns "$name" --runs "${BENCH_STARTUP_RUNS:-10}" --idle "${BENCH_IDLE:-10}"
