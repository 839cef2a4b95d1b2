#!/usr/bin/env bash
# Proves the real-kernel building blocks work: tests/vm/run -- tests/vm/smoke.sh
set -euo pipefail
# It rewires the root namespace's network and IPVS table, so never on a real host.
[[ ${LVS_IPVS_IN_VM:-} == 1 ]] || { echo "smoke: run me via tests/vm/run" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/topology.sh"
fail() { echo "SMOKE FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "kernel $(uname -r), $(ipvsadm --version)"
ipvsadm -Ln || fail "ipvsadm -Ln (no ip_vs module?)"
ipvsadm -C

step topology
topo_up || fail "topology setup"
trap 'ipvsadm -C; topo_down' EXIT

step "NAT service $TOPO_VIP:80 wrr rs1:3 rs2:1"
ipvsadm -A -t "$TOPO_VIP:80" -s wrr
ipvsadm -a -t "$TOPO_VIP:80" -r "$TOPO_RS1_IP:80" -m -w 3
ipvsadm -a -t "$TOPO_VIP:80" -r "$TOPO_RS2_IP:80" -m -w 1
ipvsadm -Ln

step "40 requests from $TOPO_CLI_NS"
counts=$(topo_count 40 "http://$TOPO_VIP/")
echo "$counts"
[[ $counts == $'rs1 30\nrs2 10' ]] || fail "expected rs1 30 / rs2 10"

step /proc/net/ip_vs_conn
conns=$(grep -c "^TCP" /proc/net/ip_vs_conn || true)
head -n 4 /proc/net/ip_vs_conn
((conns > 0)) || fail "no entries in /proc/net/ip_vs_conn"

step "ipvsadm -Ln --stats"
# The kernel folds per-CPU counters into these every 2 s, so they can lag behind.
for ((i = 0; i < 10; i++)); do
    read -r _ _ svc_conns svc_inpkts _ < <(ipvsadm -Ln --stats --exact | grep '^TCP')
    ((svc_conns == 40 && svc_inpkts > 0)) && break
    sleep 1
done
ipvsadm -Ln --stats --exact
((svc_conns == 40 && svc_inpkts > 0)) || fail "service counters conns=$svc_conns inpkts=$svc_inpkts"

echo "SMOKE OK"
