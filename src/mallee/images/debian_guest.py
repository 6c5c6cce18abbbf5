"""What the Debian image holds beyond Debian's packages: the files written into its tree.

cloud-init looks only at the EC2 metadata service (the node's, at 169.254.169.254), so a boot
never waits on probes of other clouds. Its module lists are Debian's without the ones that cost
seconds under TCG and do nothing here (locale generation, ntp, keyboard, byobu, ssh-import-id),
and without apt_configure, which runs lsb_release (another Python start, ~10 s under TCG) to
rewrite the sources.list the image already has: user-data `apt:` sections are not applied.
"""

from __future__ import annotations

import hashlib

SUITE = "bookworm"
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
PACKAGES = (
    "systemd-sysv",
    "udev",
    "dbus",
    "systemd-resolved",
    "linux-image-cloud-amd64",
    "initramfs-tools",
    "zstd",
    "cloud-init",
    "cloud-guest-utils",
    "openssh-server",
    "e2fsprogs",
    "fdisk",
    "sudo",
    "iproute2",
    "netbase",
    "ca-certificates",
)
# The agent boots every instance with root=/dev/vda1; the label lets fstab and humans find it.
LABEL = "debian-root"
DEFAULT_USER = "debian"

# Read before the kernel package is installed, so the initramfs is built once and small: only
# what finds a virtio disk (ext4 is built into the cloud kernel), not every storage driver.
INITRAMFS_CONF = "MODULES=list\nCOMPRESS=zstd\n"
INITRAMFS_MODULES = "virtio_pci\nvirtio_blk\next4\n"

FSTAB = f"LABEL={LABEL} / ext4 rw,discard,errors=remount-ro 0 1\n"

CLOUD_CFG = f"""\
# mallee: the EC2 datasource only, against the node's metadata server.
datasource_list: [ Ec2 ]
datasource:
  Ec2:
    metadata_urls: [ 'http://169.254.169.254' ]
    strict_id: false
    timeout: 5
    max_wait: 60
system_info:
  default_user:
    name: {DEFAULT_USER}
  network:
    renderers: [ networkd ]
    activators: [ networkd ]
growpart:
  mode: auto
  devices: [ '/' ]
resize_rootfs: true
ssh_deletekeys: true
# An RSA host key takes tens of seconds to make under TCG; current clients use these.
ssh_genkeytypes: [ ecdsa, ed25519 ]
cloud_init_modules:
  - seed_random
  - bootcmd
  - write_files
  - growpart
  - resizefs
  - disk_setup
  - mounts
  - set_hostname
  - update_hostname
  - update_etc_hosts
  - ca_certs
  - rsyslog
  - users_groups
  - ssh
cloud_config_modules:
  - set_passwords
  - timezone
  - disable_ec2_metadata
  - runcmd
cloud_final_modules:
  - package_update_upgrade_install
  - write_files_deferred
  - scripts_vendor
  - scripts_per_once
  - scripts_per_boot
  - scripts_per_instance
  - scripts_user
  - ssh_authkey_fingerprints
  - keys_to_console
  - phone_home
  - final_message
  - power_state_change
"""

# Files of the tree: written before the packages (the initramfs settings) and after them.
BEFORE_PACKAGES = {
    "etc/initramfs-tools/conf.d/mallee.conf": INITRAMFS_CONF,
    "usr/share/initramfs-tools/modules.d/mallee": INITRAMFS_MODULES,
}
AFTER_PACKAGES = {
    "etc/fstab": FSTAB,
    "etc/cloud/cloud.cfg.d/90_mallee.cfg": CLOUD_CFG,
    "etc/hostname": "debian\n",
    # systemd makes a new machine id at the first boot of each instance.
    "etc/machine-id": "",
}
# Enabled in the tree; cloud-init writes the network files systemd-networkd reads.
SERVICES = ("systemd-networkd.service", "systemd-resolved.service")
# e2scrub_reap looks for LVM snapshots at every boot (no LVM here): under TCG it competed with
# cloud-init for the one vCPU for about a minute.
DISABLED = ("e2scrub_reap.service", "e2scrub_all.timer")


def digest() -> str:
    """A hash of everything above: a change means a new image."""
    h = hashlib.sha256()
    for part in (SUITE, *MIRRORS, *PACKAGES, LABEL, DEFAULT_USER, *SERVICES, *DISABLED):
        h.update(part.encode() + b"\0")
    for files in (BEFORE_PACKAGES, AFTER_PACKAGES):
        for name, text in sorted(files.items()):
            h.update(name.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()
