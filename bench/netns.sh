#!/usr/bin/env bash
# Two namespaces joined by a veth, and an iptables INPUT DROP on the rx side
# for the storm's UDP port: the rule's packet counter is the number of drops
# the storm made.
#
#   netns.sh up NAME [PORT]    creates NAME-tx (10.231.0.1) and NAME-rx (10.231.0.2)
#   netns.sh down NAME         removes both; safe to run twice
#   netns.sh count NAME [PORT] prints the DROP rule's packet counter
#
# NAME must start with dtbench- (the bench's prefix on this shared machine).
set -euo pipefail

TX_ADDR=10.231.0.1
RX_ADDR=10.231.0.2

cmd=${1:-}
name=${2:-}
port=${3:-9}

case "$name" in
dtbench-*) ;;
*)
	echo "netns.sh: name must start with dtbench- (got '$name')" >&2
	exit 2
	;;
esac

tx="$name-tx"
rx="$name-rx"

down() {
	# Deleting a namespace deletes the veth end inside it, and with it the peer.
	ip netns del "$tx" 2>/dev/null || true
	ip netns del "$rx" 2>/dev/null || true
}

up() {
	# If anything below fails, leave nothing behind.
	trap down ERR
	ip netns add "$tx"
	ip netns add "$rx"
	# Short interface names: IFNAMSIZ is 16 and the namespaces already say whose they are.
	ip link add dtb0 netns "$tx" type veth peer name dtb1 netns "$rx"
	ip -n "$tx" addr add "$TX_ADDR/30" dev dtb0
	ip -n "$rx" addr add "$RX_ADDR/30" dev dtb1
	ip -n "$tx" link set lo up
	ip -n "$rx" link set lo up
	ip -n "$tx" link set dtb0 up
	ip -n "$rx" link set dtb1 up
	# Stop neighbour discovery from ever being on the storm's path.
	rx_mac=$(ip -n "$rx" -o link show dtb1 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	ip -n "$tx" neigh replace "$RX_ADDR" lladdr "$rx_mac" dev dtb0 nud permanent
	ip netns exec "$rx" iptables -w -A INPUT -p udp --dport "$port" -j DROP
	trap - ERR
	echo "{\"tx\":\"$tx\",\"rx\":\"$rx\",\"tx_addr\":\"$TX_ADDR\",\"rx_addr\":\"$RX_ADDR\",\"port\":$port}"
}

count() {
	ip netns exec "$rx" iptables -w -L INPUT -n -v -x |
		awk -v p="dpt:$port" '$3 == "DROP" && index($0, p) { print $1; found = 1; exit } END { if (!found) exit 1 }'
}

case "$cmd" in
up) up ;;
down) down ;;
count) count ;;
*)
	echo "usage: netns.sh up|down|count NAME [PORT]" >&2
	exit 2
	;;
esac
