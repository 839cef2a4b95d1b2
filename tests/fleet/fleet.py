# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fleet of IPVS hosts for role and playbook tests: qemu VMs reached over SSH.

Each host boots Debian's kernel with this machine's root filesystem shared read-only
over 9p and systemd as init, like a small server:

- /etc, /var and /root are overlays whose upper layer is the host's own ext4 disk
  image, so whatever a role writes there (units, sysctl.d, modules-load.d, exported
  tables) survives a reboot, and a reboot from inside the guest is a real one (qemu
  resets the machine and boots again from the same disk).
- NIC `mgmt` is qemu's user network with the host's SSH port forwarded from 127.0.0.1;
  NIC `front` sits on one L2 segment shared by every host of the fleet (a qemu multicast
  socket), addressed from the documentation range 192.0.2.0/24.
- sshd takes the fleet's key for root; the controller runs natively on this machine.

    python tests/fleet/fleet.py up [HOST...]      boot (all by default), wait for SSH
    python tests/fleet/fleet.py down              stop every VM of the fleet
    python tests/fleet/fleet.py ssh HOST [CMD]    a shell (or command) on a host

State lives in tests/output/fleet/ (LVS_FLEET_DIR overrides), one directory per host.
"""

import argparse
import glob
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FRONT_NET = '192.0.2.0/24'
GUEST_PYTHON = '/usr/bin/python3'

# What the initramfs loads to reach the 9p root, the state disk and the NICs.
BOOT_MODULES = ('virtio_pci', '9pnet_virtio', '9p', 'virtio_blk', 'ext4', 'overlay', 'virtio_net')

INIT = r'''#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
for m in $(cat /modules.list); do insmod "/modules/$m" 2>/dev/null; done
mkdir -p /newroot
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=512000 fleetroot /newroot ||
    { echo "fleet-init: cannot mount the 9p root"; exec sh; }
mount -t ext4 /dev/vda /newroot/mnt || { echo "fleet-init: cannot mount /dev/vda"; exec sh; }
for d in etc var root; do
    mkdir -p "/newroot/mnt/$d" "/newroot/mnt/.work/$d"
    mount -t overlay overlay \
        -o "lowerdir=/newroot/$d,upperdir=/newroot/mnt/$d,workdir=/newroot/mnt/.work/$d" "/newroot/$d"
done
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
umount /proc
mount --move /dev /newroot/dev
exec switch_root /newroot /lib/systemd/systemd
'''

NET_UNIT = '''[Unit]
Description=Fleet test network (mgmt for SSH, front the shared segment)
DefaultDependencies=no
After=systemd-udevd.service network-pre.target
Before=network.target ssh.service
# What a network manager does: units ordered after network(-online).target wait for this one.
Wants=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh /etc/fleet/net
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
'''

SSHD_CONF = '''PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UseDNS no
UsePAM yes
AuthorizedKeysFile /root/.ssh/authorized_keys
'''


class Host(object):
    """One VM: its name, its index in the fleet (ports, MACs and addresses derive from it)."""

    def __init__(self, name, index, groups, memory='768M'):
        self.name = name
        self.index = index
        self.groups = groups
        self.memory = memory

    @property
    def front_ip(self):
        return '192.0.2.%d' % (10 + self.index)

    def mac(self, nic):
        return '52:54:00:%02x:00:%02x' % (0xa0 + nic, self.index)


# The default fleet: two directors, one real server managed by the real_server role,
# and a client host (which also carries extra real servers as network namespaces).
DEFAULT_HOSTS = (
    Host('lb1', 1, ['lvs_directors']),
    Host('lb2', 2, ['lvs_directors']),
    Host('rs1', 3, ['lvs_real_servers']),
    Host('client', 4, ['lvs_clients']),
)


class FleetError(Exception):
    pass


def _run(argv, check=True, **kwargs):
    return subprocess.run(argv, check=check, **kwargs)


def default_kernel():
    kernels = [k for k in glob.glob('/boot/vmlinuz-*-amd64') if '-cloud-' not in k]
    if not kernels:
        raise FleetError('no /boot/vmlinuz-*-amd64 (apt-get install linux-image-amd64)')
    return sorted(kernels, key=lambda k: [int(p) if p.isdigit() else p for p in k.replace('-', '.').split('.')])[-1]


class Fleet(object):
    def __init__(self, workdir=None, hosts=DEFAULT_HOSTS, kernel=None, base_port=None, accel='tcg'):
        self.workdir = os.path.abspath(workdir or os.environ.get('LVS_FLEET_DIR')
                                       or os.path.join(ROOT, 'tests', 'output', 'fleet'))
        self.hosts = {h.name: h for h in hosts}
        self.kernel = kernel or os.environ.get('LVS_VM_KERNEL') or default_kernel()
        self.release = os.path.basename(self.kernel)[len('vmlinuz-'):]
        self.base_port = int(base_port or os.environ.get('LVS_FLEET_PORT', 2220))
        self.accel = accel
        self.key = os.path.join(self.workdir, 'id_ed25519')
        self.inventory = os.path.join(self.workdir, 'inventory.ini')

    # ---- paths and ports
    def hostdir(self, name):
        return os.path.join(self.workdir, name)

    def ssh_port(self, name):
        return self.base_port + self.hosts[name].index

    def console(self, name):
        return os.path.join(self.hostdir(name), 'console.log')

    # ---- building
    def build(self, fresh=True):
        """Initramfs, SSH key, inventory, and (with fresh) an empty state disk per host."""
        os.makedirs(self.workdir, exist_ok=True)
        self._build_initramfs()
        if not os.path.exists(self.key):
            _run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'lvs-fleet', '-f', self.key])
        for host in self.hosts.values():
            if fresh or not os.path.exists(os.path.join(self.hostdir(host.name), 'disk.img')):
                self._build_disk(host)
        self._write_inventory()

    def _build_initramfs(self):
        out = os.path.join(self.workdir, 'initramfs-%s.cpio' % self.release)
        if os.path.exists(out):
            return out
        stage = os.path.join(self.workdir, 'initramfs')
        shutil.rmtree(stage, ignore_errors=True)
        for d in ('bin', 'modules', 'proc', 'dev', 'newroot'):
            os.makedirs(os.path.join(stage, d))
        busybox = shutil.which('busybox') or '/bin/busybox'
        shutil.copy(busybox, os.path.join(stage, 'bin', 'busybox'))
        order = []
        for mod in BOOT_MODULES:
            deps = _run(['modprobe', '-S', self.release, '--show-depends', mod],
                        stdout=subprocess.PIPE, universal_newlines=True).stdout
            for line in deps.splitlines():
                words = line.split()
                if words[:1] != ['insmod']:
                    continue  # builtin
                base = os.path.basename(words[1])
                if base not in order:
                    order.append(base)
                    shutil.copy(words[1], os.path.join(stage, 'modules', base))
        with open(os.path.join(stage, 'modules.list'), 'w') as f:
            f.write('\n'.join(order) + '\n')
        with open(os.path.join(stage, 'init'), 'w') as f:
            f.write(INIT)
        os.chmod(os.path.join(stage, 'init'), 0o755)
        files = _run('find . | cpio -o -H newc --quiet', shell=True, cwd=stage, stdout=subprocess.PIPE).stdout
        with open(out + '.tmp', 'wb') as f:
            f.write(files)
        os.rename(out + '.tmp', out)
        return out

    def _masked_units(self):
        """Services this machine enables that a fleet host should not start (databases, timers)."""
        units = set()
        for link in glob.glob('/etc/systemd/system/*.wants/*'):
            unit = os.path.basename(link)
            if unit not in ('ssh.service', 'sshd.service'):
                units.add(unit)
        return sorted(units)

    def _build_disk(self, host):
        hdir = self.hostdir(host.name)
        shutil.rmtree(hdir, ignore_errors=True)
        upper = os.path.join(hdir, 'upper')
        etc = os.path.join(upper, 'etc')
        for d in ('systemd/system/multi-user.target.wants', 'ssh/sshd_config.d', 'fleet'):
            os.makedirs(os.path.join(etc, d))
        os.makedirs(os.path.join(upper, 'root', '.ssh'))
        os.makedirs(os.path.join(upper, 'var'))
        _write(os.path.join(etc, 'hostname'), host.name + '\n')
        _write(os.path.join(etc, 'hosts'), '127.0.0.1 localhost\n127.0.1.1 %s\n' % host.name)
        _write(os.path.join(etc, 'fstab'), '# fleet host: root is 9p, /etc /var /root overlays on /dev/vda\n')
        _write(os.path.join(etc, 'ssh', 'sshd_config.d', 'fleet.conf'), SSHD_CONF)
        _write(os.path.join(etc, 'systemd', 'system', 'fleet-net.service'), NET_UNIT)
        os.symlink('/etc/systemd/system/fleet-net.service',
                   os.path.join(etc, 'systemd', 'system', 'multi-user.target.wants', 'fleet-net.service'))
        for unit in self._masked_units():
            os.symlink('/dev/null', os.path.join(etc, 'systemd', 'system', unit))
        _write(os.path.join(etc, 'fleet', 'net'), self._net_script(host))
        with open(self.key + '.pub') as f:
            _write(os.path.join(upper, 'root', '.ssh', 'authorized_keys'), f.read())
        # This machine's shell start-up files (pyenv and the like) would run on every SSH command.
        for rc in ('.bashrc', '.profile'):
            _write(os.path.join(upper, 'root', rc), '')
        img = os.path.join(hdir, 'disk.img')
        with open(img, 'wb') as f:
            f.truncate(512 << 20)
        _run(['mkfs.ext4', '-q', '-F', '-L', 'fleet-' + host.name, '-d', upper, img])

    def _net_script(self, host):
        return '\n'.join([
            '#!/bin/sh',
            '# Generated by tests/fleet/fleet.py: the NICs are found by MAC and named mgmt and front.',
            'set -e',
            'nic() { for d in /sys/class/net/*; do [ "$(cat $d/address)" = "$1" ] && echo ${d##*/} && return; done; }',
            '# udev renames NICs (eth0 -> ens3) while it settles: rename only after it has.',
            'udevadm settle --timeout=60 || true',
            'up() {',
            '    for i in $(seq 100); do',
            '        dev=$(nic $1)',
            '        [ "$dev" = $2 ] && break',
            '        [ -n "$dev" ] && ip link set dev $dev down 2>/dev/null && ip link set dev $dev name $2 2>/dev/null && break',
            '        sleep 0.2',
            '    done',
            '    [ "$(nic $1)" = $2 ] || { echo "fleet-net: cannot name the NIC with MAC $1 $2" >&2; ip -br link >&2; exit 1; }',
            '    ip addr replace $3 dev $2',
            '    ip link set $2 up',
            '}',
            'ip link set lo up',
            'up %s mgmt 10.0.2.15/24' % host.mac(0),
            'up %s front %s/24' % (host.mac(1), host.front_ip),
            '',
        ])

    def _write_inventory(self):
        groups = {}
        for host in sorted(self.hosts.values(), key=lambda h: h.index):
            for g in host.groups:
                groups.setdefault(g, []).append(host)
        lines = []
        for group, members in groups.items():
            lines.append('[%s]' % group)
            for h in members:
                lines.append('%s ansible_host=127.0.0.1 ansible_port=%d fleet_ip=%s'
                             % (h.name, self.ssh_port(h.name), h.front_ip))
            lines.append('')
        ssh_args = ('-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR '
                    '-o ControlMaster=auto -o ControlPersist=300s -o ControlPath=%s/cm-%%C'
                    % self.workdir)
        lines += ['[all:vars]', 'ansible_user=root',
                  'ansible_ssh_private_key_file=%s' % self.key,
                  'ansible_python_interpreter=%s' % GUEST_PYTHON,
                  'ansible_ssh_common_args=%s' % shlex.quote(ssh_args), '']
        _write(self.inventory, '\n'.join(lines))

    # ---- running
    def pidfile(self, name):
        return os.path.join(self.hostdir(name), 'qemu.pid')

    def running(self, name):
        """The PID of the host's qemu, if it runs (a stale pidfile's PID may belong to anything else)."""
        try:
            with open(self.pidfile(name)) as f:
                pid = int(f.read())
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                argv = f.read().split(b'\0')
        except (OSError, ValueError):
            return None
        return pid if self.pidfile(name).encode() in argv else None

    def qemu_argv(self, host):
        hdir = self.hostdir(host.name)
        append = ('console=ttyS0 ro panic=0 quiet loglevel=3 '
                  'systemd.show_status=0 rdinit=/init')
        mcast = 'mcast=230.0.2.1:%d,localaddr=127.0.0.1' % (self.base_port + 100)
        return [
            'qemu-system-x86_64', '-name', host.name, '-machine', 'pc', '-accel', self.accel,
            '-cpu', 'max', '-smp', '1', '-m', host.memory,
            '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'none',
            '-chardev', 'file,id=con,path=%s,append=on' % self.console(host.name),
            '-serial', 'chardev:con',
            '-kernel', self.kernel, '-initrd', os.path.join(self.workdir, 'initramfs-%s.cpio' % self.release),
            '-append', append,
            '-fsdev', 'local,id=root,path=/,security_model=none,readonly=on,multidevs=remap',
            '-device', 'virtio-9p-pci,fsdev=root,mount_tag=fleetroot,bus=pci.0,addr=0x5',
            '-drive', 'file=%s,format=raw,if=none,id=disk' % os.path.join(hdir, 'disk.img'),
            '-device', 'virtio-blk-pci,drive=disk,bus=pci.0,addr=0x6',
            '-netdev', 'user,id=mgmt,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:%d-:22' % self.ssh_port(host.name),
            '-device', 'virtio-net-pci,netdev=mgmt,mac=%s,bus=pci.0,addr=0x3' % host.mac(0),
            '-netdev', 'socket,id=front,' + mcast,
            '-device', 'virtio-net-pci,netdev=front,mac=%s,bus=pci.0,addr=0x4' % host.mac(1),
            '-pidfile', self.pidfile(host.name), '-daemonize',
        ]

    def start(self, names=None):
        for name in names or sorted(self.hosts):
            if self.running(name):
                continue
            with open(self.console(name), 'a') as f:
                f.write('\n=== fleet: boot %s at %s\n' % (name, time.strftime('%H:%M:%S')))
            _run(self.qemu_argv(self.hosts[name]))

    def stop(self, names=None, timeout=10):
        """Pull the plug (no shutdown): what a crashed director looks like to its peers."""
        for name in names or sorted(self.hosts):
            pid = self.running(name)
            if not pid:
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + timeout
            while self.running(name) and time.time() < deadline:
                time.sleep(0.1)
            if self.running(name):
                os.kill(pid, signal.SIGKILL)

    def ssh_argv(self, name, command=None, timeout=10):
        argv = ['ssh', '-i', self.key, '-p', str(self.ssh_port(name)), '-o', 'BatchMode=yes',
                '-o', 'ConnectTimeout=%d' % timeout, '-o', 'StrictHostKeyChecking=no',
                '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'root@127.0.0.1']
        if command is not None:
            argv.append(command)
        return argv

    def ssh(self, name, command, check=True, timeout=300):
        """Run a shell command on a host; returns the CompletedProcess (text)."""
        res = subprocess.run(self.ssh_argv(name, command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise FleetError('%s: %r exited %d\n%s%s' % (name, command, res.returncode, res.stdout, res.stderr))
        return res

    def wait_ssh(self, names=None, timeout=600, since=None):
        """Wait until every named host answers over SSH (and, with since, has booted after it)."""
        pending = list(names or sorted(self.hosts))
        deadline = time.time() + timeout
        while pending:
            for name in list(pending):
                if not self.running(name):
                    raise FleetError('%s: qemu is not running; see %s' % (name, self.console(name)))
                try:
                    res = self.ssh(name, 'cat /proc/uptime', check=False, timeout=20)
                except subprocess.TimeoutExpired:
                    continue
                if res.returncode == 0 and (since is None or float(res.stdout.split()[0]) < time.time() - since):
                    pending.remove(name)
            if pending and time.time() > deadline:
                raise FleetError('no SSH from %s after %d s; see %s' % (
                    ', '.join(pending), timeout, ', '.join(self.console(n) for n in pending)))
            if pending:
                time.sleep(2)

    def use_vars(self, inventory_dir):
        """Copy an inventory's group_vars and host_vars next to the fleet's inventory."""
        for sub in ('group_vars', 'host_vars'):
            dest = os.path.join(self.workdir, sub)
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(os.path.join(inventory_dir, sub), dest)

    def ansible_env(self):
        """The environment for ansible-playbook against the fleet: this checkout as lvs.ipvs
        (whatever else is on the collections path), pipelining, no host key prompts."""
        link = os.path.join(self.workdir, 'collections', 'ansible_collections', 'lvs', 'ipvs')
        if not os.path.islink(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(ROOT, link)
        return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(self.workdir, 'collections'),
                    ANSIBLE_PIPELINING='1', ANSIBLE_HOST_KEY_CHECKING='0', ANSIBLE_FORKS='10',
                    ANSIBLE_REMOTE_TMP='/tmp/.ansible-remote', ANSIBLE_NOCOLOR='1',
                    ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_STDOUT_CALLBACK='default')

    def up(self, names=None, fresh=True, timeout=600):
        self.build(fresh=fresh)
        self.start(names)
        self.wait_ssh(names, timeout=timeout)


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    up = sub.add_parser('up')
    up.add_argument('hosts', nargs='*')
    up.add_argument('--keep', action='store_true', help='keep the hosts\' disks from a previous run')
    sub.add_parser('down')
    ssh = sub.add_parser('ssh')
    ssh.add_argument('host')
    ssh.add_argument('command', nargs=argparse.REMAINDER)
    sub.add_parser('inventory')
    args = p.parse_args(argv)
    fleet = Fleet()
    if args.cmd == 'up':
        t = time.time()
        fleet.up(args.hosts or None, fresh=not args.keep)
        print(json.dumps({'inventory': fleet.inventory, 'seconds': round(time.time() - t, 1)}))
    elif args.cmd == 'down':
        fleet.stop()
    elif args.cmd == 'ssh':
        os.execvp('ssh', fleet.ssh_argv(args.host, ' '.join(args.command) if args.command else None))
    elif args.cmd == 'inventory':
        print(fleet.inventory)
    return 0


if __name__ == '__main__':
    sys.exit(main())
