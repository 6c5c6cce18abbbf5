"""The guest side of the default image: stage-1 init, the boot script and its helpers.

Progress markers go to the serial console (EUCA-INITRD, EUCA-NET, EUCA-METADATA, EUCA-SSH,
EUCA-USERDATA, EUCA-READY) so the cloud, the tests and a user reading GetConsoleOutput can see
how far a boot got. busybox 1.35's `wget -T` crashes, hence `timeout N wget`.
"""

from __future__ import annotations

import hashlib

# Drivers the Debian cloud kernel builds as modules, in dependency order (there is no
# modules.dep and no modprobe): virtio disk, network and rng; evdev and button let the ACPI
# power button reach acpid.
MODULES = (
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "failover",
    "net_failover",
    "virtio_net",
    "virtio_blk",
    "virtio_rng",
    "evdev",
    "button",
)

# Formatted with {modules}: the .ko paths in load order. Runs from the initramfs as PID 1.
STAGE1 = """#!/bin/sh
# Stage 1 (the eri): load the drivers, then boot the disk named by root=, or stay in RAM.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in {modules}; do insmod "$m"; done
read -r up rest < /proc/uptime
echo "EUCA-INITRD ${{up}}s" > /dev/console
root=
read -r cmdline < /proc/cmdline
for word in $cmdline; do
  case "$word" in root=*) root=${{word#root=}} ;; esac
done
if [ -n "$root" ]; then
  dev=
  i=0
  while [ $i -lt 500 ]; do
    case "$root" in
      /dev/*) [ -b "$root" ] && dev=$root ;;
      *) dev=$(findfs "$root" 2>/dev/null) ;;
    esac
    [ -n "$dev" ] && break
    usleep 10000
    i=$((i+1))
  done
  if [ -n "$dev" ] && mount -t ext4 -o rw "$dev" /newroot; then
    mount --move /dev /newroot/dev
    umount /proc /sys
    exec switch_root /newroot /sbin/init
  fi
  echo "EUCA-INITRD cannot mount $root, running from RAM" > /dev/console
fi
exec /sbin/init
"""

INITTAB = """::sysinit:/etc/euca/rcS
::shutdown:/etc/euca/rc.shutdown
::ctrlaltdel:/sbin/poweroff
"""

RC_SHUTDOWN = """#!/bin/sh
echo "EUCA-SHUTDOWN" > /dev/console
killall dropbear httpd udhcpc acpid 2>/dev/null
sync
mount -o remount,ro / 2>/dev/null
exit 0
"""

# busybox udhcpc only reports a lease; this script applies it.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    [ -n "$hostname" ] && hostname "$hostname"
    # The node's DNS server answers the cloud's names and forwards the rest.
    { for d in $dns; do echo "nameserver $d"; done; } > /etc/resolv.conf 2>/dev/null
    echo "$ip" > /run/local-ipv4 ;;
esac
exit 0
"""

# busybox acpid runs /etc/acpi/<event>/<code> for each event; PWRF 00000080 is the power button.
POWER_BUTTON = """#!/bin/sh
echo "EUCA-ACPI power button" > /dev/console
exec poweroff
"""

# The HTTP page is up as soon as the instance id is known. The SSH host key is made at first boot
# and needs the kernel's entropy pool ready (over a second without a virtio-rng device), so SSH
# comes up in the background while user-data runs; user-data runs once per instance (a reboot
# of the same disk does not run it again). EUCA-READY means all of it is done.
RCS = r"""#!/bin/sh
# The instance's boot ("cloud-init"): network, metadata, HTTP, keys, SSH, user-data.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
up() { read -r t rest < /proc/uptime; echo "$t"; }
say() { echo "$*" > /dev/console; }
md() { timeout 3 wget -q -O "$2" "http://169.254.169.254/latest/$1" 2>/dev/null; }
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
hostname -F /etc/hostname
ip link set lo up
acpid -c /etc/acpi
ip link set eth0 up
udhcpc -i eth0 -s /etc/euca/udhcpc.script -t 20 -T 1 -A 1 -n >/dev/null 2>&1
IP=$(cat /run/local-ipv4 2>/dev/null)
say "EUCA-NET ${IP:-none} t=$(up)s"
ID=
i=0
while [ $i -lt 120 ]; do
  ID=$(md meta-data/instance-id -) && [ -n "$ID" ] && break
  i=$((i+1))
  sleep 0.25
done
say "EUCA-METADATA instance-id=${ID:-unknown} t=$(up)s"
mkdir -p /www /root/.ssh /var/log /var/lib/euca
echo "<html><body><h1>instance-id: $ID</h1><p>$IP</p></body></html>" > /www/index.html
httpd -p 80 -h /www
chmod 700 /root /root/.ssh
if md meta-data/public-keys/0/openssh-key /run/openssh-key && [ -s /run/openssh-key ]; then
  cat /run/openssh-key > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
fi
ssh_up() {
  key=/etc/dropbear/dropbear_ed25519_host_key
  chown 0:0 /root /root/.ssh  # dropbear refuses keys in a home another user owns
  [ -s $key ] || dropbearkey -t ed25519 -f $key >/dev/null 2>&1
  dropbear -r $key -s -p 22
  say "EUCA-SSH t=$(up)s"
  keys=$(dropbearkey -y -f $key 2>/dev/null | grep '^ssh-')
  say "-----BEGIN SSH HOST KEY KEYS-----
$keys
-----END SSH HOST KEY KEYS-----"
}
ssh_up &
SSH_UP=$!
RAN=/var/lib/euca/user-data-ran.$ID
if [ -n "$ID" ] && [ ! -e "$RAN" ] && md user-data /run/user-data \
    && [ "$(head -c 2 /run/user-data)" = "#!" ]; then
  : > "$RAN"
  chmod 700 /run/user-data
  say "EUCA-USERDATA running"
  /run/user-data > /var/log/user-data.log 2>&1 < /dev/null
  code=$?
  cat /var/log/user-data.log > /dev/console
  say "EUCA-USERDATA exit=$code"
fi
wait $SSH_UP
sync
say "EUCA-READY instance-id=$ID uptime=$(up)s"
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\n"
# "*": no password can match, but the account is not locked ("!"), so key logins work.
SHADOW = "root:*:19000:0:99999:7:::\n"
SHELLS = "/bin/sh\n"
GROUP = "root:x:0:\n"
HOSTS = "127.0.0.1 localhost\n"

# Path in the root tree -> (text, mode). Stage 1 is not here: it lives in the initramfs only.
FILES: dict[str, tuple[str, int]] = {
    "etc/inittab": (INITTAB, 0o644),
    "etc/euca/rcS": (RCS, 0o755),
    "etc/euca/rc.shutdown": (RC_SHUTDOWN, 0o755),
    "etc/euca/udhcpc.script": (UDHCPC_SCRIPT, 0o755),
    "etc/acpi/PWRF/00000080": (POWER_BUTTON, 0o755),
    "etc/passwd": (PASSWD, 0o644),
    "etc/shadow": (SHADOW, 0o600),
    "etc/group": (GROUP, 0o644),
    "etc/shells": (SHELLS, 0o644),
    "etc/hosts": (HOSTS, 0o644),
    "etc/hostname": ("euca-instance\n", 0o644),
}


def digest() -> str:
    """A hash of everything the guest runs, so editing a script rebuilds the image."""
    h = hashlib.sha256(STAGE1.encode())
    for path, (text, mode) in sorted(FILES.items()):
        h.update(f"\0{path}\0{mode:o}\0{text}".encode())
    h.update("\0".join(MODULES).encode())
    return h.hexdigest()
