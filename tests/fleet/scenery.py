# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet's scenery around the roles: backends on rs1 and in the client's namespaces,
the directors' route to the NAT client, and a client that counts who answered. Shared by
the fleet tests and the demo (demo/run).

Topology (192.0.2.0/24, one L2 segment; fleet.py):
  lb1 .11 (sync master), lb2 .12 (sync backup): lvs.ipvs.load_balancer
  rs1 .13: lvs.ipvs.real_server (DR), web on :80 and :8080, echo on :7000
  client .14: network namespaces `cli` (the client, 192.0.2.100 and 198.51.100.100,
      routes the VIPs 203.0.113.0/24 to the active director) and `rs2` (a second
      real server, 192.0.2.22), each on a macvlan of the shared segment.
NAT replies go back through lb1: rs1 and rs2 route 198.51.100.0/24 there.
"""

import collections

DR_VIP, NAT_VIP, ECHO_VIP = '203.0.113.10', '203.0.113.20', '203.0.113.30'
CLIENT_NAT_IP = '198.51.100.100'

# Units, so that the backends come back after a reboot like real services would.
UNIT = r'''
set -e
unit() {  # unit NAME TYPE COMMAND
    printf '[Unit]\nAfter=fleet-net.service\n[Service]\nType=%s\nRemainAfterExit=%s\nExecStart=%s\n' \
        "$2" "$([ "$2" = oneshot ] && echo yes || echo no)" "$3" > /etc/systemd/system/$1.service
    printf '[Install]\nWantedBy=multi-user.target\n' >> /etc/systemd/system/$1.service
}
'''

RS1_SETUP = UNIT + r'''
mkdir -p /var/lib/fleet/80 /var/lib/fleet/8080
echo rs1 > /var/lib/fleet/80/index.html
echo rs1 > /var/lib/fleet/8080/index.html
cat > /var/lib/fleet/echo.py <<'EOF'
import socketserver
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(('', 7000), Echo).serve_forever()
EOF
unit fleet-web80 simple "/bin/busybox httpd -f -p 80 -h /var/lib/fleet/80"
unit fleet-web8080 simple "/bin/busybox httpd -f -p 8080 -h /var/lib/fleet/8080"
unit fleet-echo simple "/usr/bin/python3 /var/lib/fleet/echo.py"
unit fleet-route oneshot "ip route replace 198.51.100.0/24 via 192.0.2.11"
systemctl daemon-reload
systemctl enable --now fleet-web80 fleet-web8080 fleet-echo fleet-route
'''

# The directors reach the NAT client's subnet on the segment.
LB_SETUP = UNIT + r'''
unit fleet-route oneshot "ip route replace 198.51.100.0/24 dev front"
systemctl daemon-reload
systemctl enable --now fleet-route
'''

CLIENT_SETUP = r'''
set -e
for ns in cli rs2; do
    ip netns del $ns 2>/dev/null || true
    ip netns add $ns
    ip link add $ns-if link front type macvlan mode bridge
    ip link set $ns-if netns $ns
    ip -n $ns link set lo up
    ip -n $ns link set $ns-if up
done
ip -n cli addr add 192.0.2.100/24 dev cli-if
ip -n cli addr add 198.51.100.100/24 dev cli-if
ip -n cli route add 203.0.113.0/24 via 192.0.2.11
ip -n rs2 addr add 192.0.2.22/24 dev rs2-if
ip -n rs2 addr add 203.0.113.10/32 dev lo
ip -n rs2 route add 198.51.100.0/24 via 192.0.2.11
ip netns exec rs2 sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
for port in 80 8080; do
    mkdir -p /tmp/rs2/$port && echo rs2 > /tmp/rs2/$port/index.html
    ip netns exec rs2 busybox httpd -p $port -h /tmp/rs2/$port
done
'''


def requests(fleet, url, count, source=None):
    """What `count` new connections from the client namespace got back, counted by answer."""
    iface = '--interface %s ' % source if source else ''
    out = fleet.ssh('client', "ip netns exec cli sh -c 'for i in $(seq %d); do curl -s -m 5 %s%s || echo FAILED; done'"
                    % (count, iface, url)).stdout
    return collections.Counter(out.split())


def set_up(fleet):
    """The backends and routes on booted hosts (idempotent)."""
    fleet.ssh('rs1', RS1_SETUP)
    fleet.ssh('client', CLIENT_SETUP)
    for lb in ('lb1', 'lb2'):
        fleet.ssh(lb, LB_SETUP)
