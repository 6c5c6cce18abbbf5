"""The guest side of the default image: stage-1 init, the boot script and its helpers.

Progress markers go to the serial console (EUCA-INITRD, EUCA-NET, EUCA-METADATA, EUCA-SSH,
EUCA-USERDATA, EUCA-READY) so the cloud, the tests and a user reading GetConsoleOutput can see
how far a boot got. busybox 1.35's `wget -T` crashes, hence `timeout N wget`.
"""

from __future__ import annotations

# Modules the Debian cloud kernel builds as modules, in dependency order (virtio disk and
# network; evdev and button let the ACPI power button reach acpid).
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
    "evdev",
    "button",
)

STAGE1 = """#!/bin/sh
# Stage 1 (the eri): load the virtio drivers, then switch to the root disk named by root=.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in {modules}; do
  [ -f /lib/modules/$m.ko ] && /bin/busybox insmod /lib/modules/$m.ko
done
echo "EUCA-INITRD $(/bin/busybox cut -d' ' -f1 /proc/uptime)s" > /dev/console
root=
for word in $(/bin/busybox cat /proc/cmdline); do
  case "$word" in root=*) root=${{word#root=}} ;; esac
done
if [ -n "$root" ]; then
  i=0
  while [ ! -b "$root" ] && [ $i -lt 500 ]; do /bin/busybox usleep 10000; i=$((i+1)); done
  /bin/busybox mkdir -p /newroot
  if /bin/busybox mount -t ext4 "$root" /newroot; then
    /bin/busybox mount --move /dev /newroot/dev
    /bin/busybox umount /proc /sys
    exec /bin/busybox switch_root /newroot /sbin/init
  fi
  echo "EUCA-INITRD cannot mount $root" > /dev/console
fi
exec /bin/busybox sh
"""

INITTAB = """::sysinit:/etc/euca/rcS
::shutdown:/etc/euca/rc.shutdown
::ctrlaltdel:/sbin/poweroff
"""

RC_SHUTDOWN = """#!/bin/sh
echo "EUCA-SHUTDOWN" > /dev/console
sync
umount -a -r 2>/dev/null
"""

# busybox udhcpc only reports a lease; this script applies it.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    [ -n "$hostname" ] && hostname "$hostname"
    echo "$ip" > /run/local-ipv4 ;;
esac
exit 0
"""

POWER_BUTTON = """#!/bin/sh
poweroff
"""

RCS = r"""#!/bin/sh
# The instance's boot ("cloud-init"): network, metadata, keys, SSH, HTTP, user-data.
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mkdir -p /dev/pts /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "$*" > /dev/console; }
ip link set lo up
acpid -c /etc/acpi
ip link set eth0 up
udhcpc -i eth0 -s /usr/share/udhcpc/default.script -t 20 -T 1 -A 1 -n -q >/dev/null 2>&1
say "EUCA-NET $(ip -4 -o addr show eth0 | awk '{print $4}') t=$(up)s"
MD=http://169.254.169.254/latest
ID=
i=0
while [ $i -lt 120 ]; do
  ID=$(timeout 3 wget -q -O - $MD/meta-data/instance-id 2>/dev/null) && [ -n "$ID" ] && break
  i=$((i+1)); sleep 0.25
done
say "EUCA-METADATA instance-id=$ID"
mkdir -p /root/.ssh /www /var/log
chmod 700 /root/.ssh
if timeout 3 wget -q -O /root/.ssh/authorized_keys $MD/meta-data/public-keys/0/openssh-key; then
  chmod 600 /root/.ssh/authorized_keys
else
  rm -f /root/.ssh/authorized_keys
fi
echo "<html><body><h1>instance-id: $ID</h1></body></html>" > /www/index.html
httpd -p 80 -h /www
mkdir -p /etc/dropbear
dropbear -R -s -p 22
say "EUCA-SSH t=$(up)s"
if timeout 3 wget -q -O /run/user-data $MD/user-data 2>/dev/null \
    && [ "$(head -c 2 /run/user-data)" = "#!" ]; then
  chmod 700 /run/user-data
  say "EUCA-USERDATA running"
  /run/user-data > /var/log/user-data.log 2>&1
  code=$?
  cat /var/log/user-data.log > /dev/console
  say "EUCA-USERDATA exit=$code"
fi
say "EUCA-READY instance-id=$ID uptime=$(up)s"
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\n"
# "*": no password can match, but the account is not locked ("!"), so key logins work.
SHADOW = "root:*:19000:0:99999:7:::\n"
SHELLS = "/bin/sh\n"
