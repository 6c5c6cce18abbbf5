"""What a storage agent repairs beyond its own rows: what other failures left behind.

- Orphan chunk blobs: a snapshot's blob is stored before the transaction recording its chunk
  row; an agent SIGKILLed between the two leaves a blob no row names (the restarted agent
  starts the snapshot over and cannot know it). Chunk blobs have their own kind in the object
  store, so they can be listed; one no chunk names and older than ORPHAN_AGE (no upload still
  in flight is that old) is deleted.
- Snapshots of a dead storage host: `pending` snapshots wait for the agent of the volume's
  host, which may never come back. When that host's service row shows no heartbeat for
  DEAD_AFTER heartbeat timeouts, another agent ends them `error` with a StatusMessage and frees
  what they had copied. (A host that comes back meanwhile finds them no longer pending.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select, update

from mallee.storage.snapshots import BLOB_KIND, Snapshots
from mallee.store.tables.ebs import Ec2Snapshot, Ec2SnapshotChunk
from mallee.store.tables.registry import ServiceRow

log = logging.getLogger(__name__)

ORPHAN_AGE = 3600.0
SWEEP_EVERY = 600.0
# Heartbeat timeouts without a beat before a host's pending snapshots are failed: several,
# so a host restarting (or a database pause) does not lose them.
DEAD_AFTER = 4
# Blob ids checked against the chunk rows per query (databases limit a statement's parameters).
SLICE = 500


def sweep_orphan_blobs(snapshots: Snapshots, now: float, age: float = ORPHAN_AGE) -> int:
    """Delete the chunk blobs older than `age` that no chunk row names; how many went."""
    try:
        old = [b for b, written in snapshots.objects.listing(BLOB_KIND) if written < now - age]
    except Exception as err:
        # The object store away (or none configured): the next sweep tries again.
        log.warning("cannot list snapshot blobs: %s", err)
        return 0
    orphans = _unnamed(snapshots, old)
    for blob_id in orphans:
        try:
            snapshots.objects.delete(blob_id)
        except Exception:
            log.exception("could not delete orphan snapshot blob %s", blob_id)
    if orphans:
        log.info("deleted %d snapshot blobs no chunk names", len(orphans))
    return len(orphans)


def _unnamed(snapshots: Snapshots, blob_ids: Iterable[str]) -> list[str]:
    wanted = sorted(set(blob_ids))
    named: set[str] = set()
    with snapshots.store.read() as s:
        for start in range(0, len(wanted), SLICE):
            named |= set(
                s.scalars(
                    select(Ec2SnapshotChunk.blob_id)
                    .where(Ec2SnapshotChunk.blob_id.in_(wanted[start : start + SLICE]))
                    .distinct()
                )
            )
    return [b for b in wanted if b not in named]


def _beating(row: ServiceRow, now: float, timeout: float) -> bool:
    # As the registry's derive_state tells NOTREADY, whatever the admin state: a STOPPED host
    # that is not running takes no snapshot either.
    return row.last_heartbeat is not None and now - row.last_heartbeat <= timeout


def fail_snapshots_of_dead_hosts(
    snapshots: Snapshots, me: str, now: float, heartbeat_timeout: float
) -> list[str]:
    """End `error` the pending snapshots of other storage hosts dead for DEAD_AFTER heartbeat
    timeouts (or no longer registered); the ids of those ended."""
    timeout = DEAD_AFTER * heartbeat_timeout
    with snapshots.store.read() as s:
        hosts = set(
            s.scalars(
                select(Ec2Snapshot.storage_host)
                .where(
                    Ec2Snapshot.state == "pending",
                    Ec2Snapshot.storage_host.not_in(("", me)),
                )
                .distinct()
            )
        )
        if not hosts:
            return []
        services = {
            row.name: row
            for row in s.scalars(
                select(ServiceRow).where(ServiceRow.type == "storage", ServiceRow.name.in_(hosts))
            )
        }
    dead = [
        h for h in sorted(hosts) if h not in services or not _beating(services[h], now, timeout)
    ]
    ended: list[str] = []
    for host in dead:
        message = (
            f"Storage host {host} has been unreachable for over {timeout:g} s; "
            "the snapshot could not be completed."
        )
        with snapshots.store.session() as s:
            ids = list(
                s.scalars(
                    select(Ec2Snapshot.id).where(
                        Ec2Snapshot.storage_host == host, Ec2Snapshot.state == "pending"
                    )
                )
            )
            if ids:
                s.execute(
                    update(Ec2Snapshot)
                    .where(Ec2Snapshot.id.in_(ids), Ec2Snapshot.state == "pending")
                    .values(state="error", status_message=message)
                )
        for snapshot_id in ids:
            log.warning("%s: pending on dead storage host %s: error", snapshot_id, host)
            snapshots.discard_chunks(snapshot_id)
        ended += ids
    return ended
