# shellcheck shell=bash
# Test network inside the VM (never on a real host): the root namespace is the director.
#   cli (netns) eth0 10.10.0.2/24 --veth-- v-cli 10.10.0.1 (director, also the VIP)
#   rs1 (netns) eth0 10.20.0.2/24 --veth-- v-rs1 \
#                                               br-rs 10.20.0.1 (director)
#   rs2 (netns) eth0 10.20.0.3/24 --veth-- v-rs2 /
# Each backend runs busybox httpd on :80 serving index.html containing its netns name,
# with its default route via the director (needed for NAT/masq replies).
# Usage: . tests/vm/lib/topology.sh; topo_up; trap topo_down EXIT; topo_get http://$TOPO_VIP/

TOPO_CLI_NS=cli
TOPO_CLI_IP=10.10.0.2
TOPO_VIP=10.10.0.1            # director address on the client side
TOPO_DIR_RS_IP=10.20.0.1      # director address on the backend side
TOPO_RS_NS=(rs1 rs2)
TOPO_RS_IP=(10.20.0.2 10.20.0.3)
# shellcheck disable=SC2034  # used by the scripts that source this file (smoke.sh)
TOPO_RS1_IP=${TOPO_RS_IP[0]} TOPO_RS2_IP=${TOPO_RS_IP[1]}
TOPO_BRIDGE=br-rs
TOPO_WWW=${TOPO_WWW:-/tmp/lvs-topo}

# Returns non-zero on the first failing step (set -e does not apply inside `topo_up || ...`).
topo_up() {
    topo_down
    sysctl -qw net.ipv4.ip_forward=1 &&
        ip netns add "$TOPO_CLI_NS" &&
        ip link add v-cli type veth peer name eth0 netns "$TOPO_CLI_NS" &&
        ip addr add "$TOPO_VIP/24" dev v-cli &&
        ip link set v-cli up &&
        ip -n "$TOPO_CLI_NS" link set lo up &&
        ip -n "$TOPO_CLI_NS" addr add "$TOPO_CLI_IP/24" dev eth0 &&
        ip -n "$TOPO_CLI_NS" link set eth0 up &&
        ip -n "$TOPO_CLI_NS" route add default via "$TOPO_VIP" &&
        ip link add "$TOPO_BRIDGE" type bridge &&
        ip addr add "$TOPO_DIR_RS_IP/24" dev "$TOPO_BRIDGE" &&
        ip link set "$TOPO_BRIDGE" up || return 1
    local i ns ip n
    for i in "${!TOPO_RS_NS[@]}"; do
        ns=${TOPO_RS_NS[i]} ip=${TOPO_RS_IP[i]}
        ip netns add "$ns" &&
            ip link add "v-$ns" type veth peer name eth0 netns "$ns" &&
            ip link set "v-$ns" master "$TOPO_BRIDGE" up &&
            ip -n "$ns" link set lo up &&
            ip -n "$ns" addr add "$ip/24" dev eth0 &&
            ip -n "$ns" link set eth0 up &&
            ip -n "$ns" route add default via "$TOPO_DIR_RS_IP" &&
            mkdir -p "$TOPO_WWW/$ns" &&
            echo "$ns" >"$TOPO_WWW/$ns/index.html" || return 1
        ip netns exec "$ns" busybox httpd -f -p 80 -h "$TOPO_WWW/$ns" </dev/null >/dev/null 2>&1 &
        echo $! >"$TOPO_WWW/$ns.pid"
    done
    for i in "${!TOPO_RS_NS[@]}"; do   # wait until each backend answers directly
        n=0
        until [[ $(timeout 2 busybox wget -q -O - "http://${TOPO_RS_IP[i]}/" 2>/dev/null) == "${TOPO_RS_NS[i]}" ]]; do
            ((++n < 50)) || { echo "topology: ${TOPO_RS_NS[i]} httpd not answering" >&2; return 1; }
            sleep 0.2
        done
    done
}

topo_down() {
    local ns f
    for f in "$TOPO_WWW"/*.pid; do
        [[ -e $f ]] && kill "$(cat "$f")" 2>/dev/null; rm -f "$f"
    done
    for ns in "$TOPO_CLI_NS" "${TOPO_RS_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null   # also removes the veth pair
    done
    ip link del "$TOPO_BRIDGE" 2>/dev/null
    return 0
}

# topo_get URL: one HTTP GET from the client namespace, body on stdout.
# (Debian busybox-static wget segfaults on -T, hence timeout(1).)
topo_get() { ip netns exec "$TOPO_CLI_NS" timeout 5 busybox wget -q -O - "$1"; }

# topo_count N URL: N GETs from the client; prints "<body> <count>" lines, sorted.
topo_count() {
    local i
    for ((i = 0; i < $1; i++)); do topo_get "$2" || echo FAIL; done | sort | uniq -c | awk '{print $2, $1}'
}
