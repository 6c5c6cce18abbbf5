#!/usr/bin/env bash
# A one-node Ceph cluster for the ceph-rbd volume backend's tests (Debian 12's Ceph 16):
# one mon, one mgr, one bluestore OSD on a sparse file, and the pool `rbd`. Everything it has
# is under DIR (configuration, data, sockets, logs, pid files), it listens on 127.0.0.1 only,
# on free ports, and has no cephx (auth none): two clusters on one host never share anything,
# and /etc/ceph and /var/lib/ceph are never touched.
#
#   scripts/ceph.sh start DIR [MON_PORT]   make the cluster if DIR has none, else start it again;
#                                          returns when it is HEALTH_OK with its PGs active+clean
#   scripts/ceph.sh stop DIR               stop exactly the daemons this DIR's pid files name
#
# Clients: `rbd --conf DIR/ceph.conf ...`; QEMU: {"driver": "rbd", "conf": "DIR/ceph.conf", ...}.
# The OSD's block file wants a file system with O_DIRECT (ext4, xfs; tmpfs on recent kernels).
set -euo pipefail

usage() { echo "usage: $0 start DIR [MON_PORT] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
D=$(realpath -m "$2")
CONF=$D/ceph.conf
# A sparse file: bluestore uses what is written (tens of MB for the tests' volumes).
OSD_BYTES=${CEPH_OSD_BYTES:-8589934592}

running() { [ -s "$D/run/$1.pid" ] && kill -0 "$(cat "$D/run/$1.pid")" 2>/dev/null; }

stop_daemons() {  # SIGTERM the named daemons together; SIGKILL what is left after 10 s
  local pids=() alive=() n pid i
  for n in "$@"; do
    running "$n" || { rm -f "$D/run/$n.pid"; continue; }
    pid=$(cat "$D/run/$n.pid")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$D/run/$n.pid"
  done
  for ((i = 0; i < 100; i++)); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} = 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
}

if [ "$cmd" = stop ]; then
  [ -d "$D/run" ] || exit 0
  # The OSD and mgr first (both need the mon to shut down cleanly), the mon last.
  stop_daemons osd.0 mgr.x
  stop_daemons mon.a
  exit 0
fi
[ "$cmd" = start ] || usage

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_daemon() {  # start_daemon NAME ARGV...: in the foreground (-f) of its own session
  local n=$1; shift
  running "$n" && return 0
  setsid "$@" -f </dev/null >>"$D/log/$n.out" 2>&1 &
  echo $! >"$D/run/$n.pid"
}
wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local n=$1 what=$2 i; shift 2
  for ((i = 0; i < n * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "ceph.sh: timed out waiting for $what (logs: $D/log)" >&2
  return 1
}
ceph_() { ceph --conf "$CONF" --connect-timeout 5 "$@"; }

fresh=0
if [ ! -e "$D/.made" ]; then
  fresh=1
  rm -rf "$D/mon" "$D/mgr" "$D/osd" "$D/run" "$D/log" "$D/mgr-modules"
  mkdir -p "$D"/{mon,mgr/x,osd/0,run,log,crash,mgr-modules}
  port=${3:-$(free_port)}
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$port]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
public_network = 127.0.0.0/8
cluster_network = 127.0.0.0/8
ms_bind_msgr1 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
# One OSD: pools of one copy, placed on that OSD alone.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
run_dir = $D/run
admin_socket = $D/run/\$name.asok
log_file = $D/log/\$name.log
crash_dir = $D/crash
mon_data = $D/mon/\$id
mgr_data = $D/mgr/\$id
osd_data = $D/osd/\$id

[mon]
mon_allow_pool_delete = true
# Map changes committed every 0.1 s instead of 1 s: the OSD's boot and the pool come sooner.
paxos_propose_interval = 0.1
# A CI disk with little free space must not turn the cluster's health to WARN.
mon_data_avail_warn = 2
mon_data_avail_crit = 1
mgr_initial_modules = iostat

[mgr]
# Only the always-on modules: the mgr is ready in ~2 s instead of ~7 s, with 140 MiB less.
mgr_module_path = $D/mgr-modules

[osd]
osd_objectstore = bluestore
# Outside the OSD's data directory: inside it, mkfs fails ("Too many levels of symbolic links").
bluestore_block_path = $D/osd/block.\$id
bluestore_block_create = true
bluestore_block_size = $OSD_BYTES
bluestore_fsck_on_mount = false
osd_memory_target = 939524096
# Each shard opens the block file at start (~0.3 s each): one is enough here.
osd_op_num_shards = 1
osd_op_num_threads_per_shard = 2
EOF
  for m in mgr_module.py mgr_util.py balancer crash devicehealth orchestrator pg_autoscaler \
           progress rbd_support status telemetry volumes iostat; do
    ln -s "/usr/share/ceph/mgr/$m" "$D/mgr-modules/$m"
  done
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" "$D/monmap" >/dev/null
  ceph-mon --conf "$CONF" --mkfs -i a --monmap "$D/monmap" >"$D/log/mon-mkfs.out" 2>&1 ||
    { cat "$D/log/mon-mkfs.out" >&2; exit 1; }
fi

start_daemon mon.a ceph-mon --conf "$CONF" -i a
wait_for 30 "the mon" ceph_ mon stat
start_daemon mgr.x ceph-mgr --conf "$CONF" -i x
if [ $fresh = 1 ]; then
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  [ "$(ceph_ osd new "$osd_uuid")" = 0 ] || { echo "ceph.sh: the OSD is not osd.0" >&2; exit 1; }
  ceph-osd --conf "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$D/log/osd-mkfs.out" 2>&1 ||
    { cat "$D/log/osd-mkfs.out" >&2; exit 1; }
fi
start_daemon osd.0 ceph-osd --conf "$CONF" -i 0
osd_up() { ceph_ osd dump | grep -q '^osd.0 up  *in'; }
wait_for 60 "osd.0 up and in" osd_up
if [ $fresh = 1 ]; then
  ceph_ osd pool create rbd 8 >/dev/null 2>&1
  rbd --conf "$CONF" pool init rbd
  touch "$D/.made"
fi
healthy() {
  ceph_ health | grep -q HEALTH_OK &&
    ceph_ pg stat | grep -Eq '^[0-9]+ pgs: [0-9]+ active\+clean;'
}
wait_for 60 "HEALTH_OK with every PG active+clean" healthy
