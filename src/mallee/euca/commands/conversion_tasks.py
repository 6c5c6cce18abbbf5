"""Image import: euca-import-volume, euca-import-instance, euca-describe-conversion-tasks,
euca-cancel-conversion-task.

euca-import-volume and euca-import-instance upload the image to a bucket as parts plus an
import manifest (mallee.euca.import_manifest), then ask ImportVolume (ImportInstance) to
convert it into a new volume (and an image and a stopped instance). euca2ools' import-instance
asks first and uploads after (euca-resume-import); here the upload comes first for both, as the
service reads the manifest when asked. Their lines are euca2ools': `TaskType IMPORTVOLUME
TaskId ... Status ...` (IMPORTINSTANCE), then a `DISKIMAGE` line per disk.
"""

from __future__ import annotations

import argparse
import base64
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mallee.euca import env
from mallee.euca.command import Command, Context, Line
from mallee.euca.errors import CommandError
from mallee.euca.import_manifest import build, split

FORMATS = ("raw", "vmdk", "vhd", "qcow2")
# SigV4 presigned URLs live at most a week.
MAX_URL_SECONDS = 7 * 24 * 3600


def task_lines(task: dict[str, Any]) -> list[list[object]]:
    """euca2ools' print_conversion_task."""
    bits: list[object] = []
    if task.get("ImportVolume"):
        bits += ["TaskType", "IMPORTVOLUME"]
    if task.get("ImportInstance"):
        bits += ["TaskType", "IMPORTINSTANCE"]
    for name, key in (
        ("TaskId", "ConversionTaskId"),
        ("ExpirationTime", "ExpirationTime"),
        ("Status", "State"),
        ("StatusMessage", "StatusMessage"),
    ):
        if task.get(key):
            bits += [name, task[key]]
    lines: list[list[object]] = []
    if task.get("ImportVolume"):
        lines.append(bits)
        lines.append(_disk_line(task["ImportVolume"]))
    if task.get("ImportInstance"):
        instance = task["ImportInstance"]
        if instance.get("InstanceId"):
            bits += ["InstanceID", instance["InstanceId"]]
        lines.append(bits)
        lines += [_disk_line(v) for v in instance.get("Volumes") or []]
    return lines


def _disk_line(disk: dict[str, Any]) -> list[object]:
    image, volume = disk.get("Image") or {}, disk.get("Volume") or {}
    bits: list[object] = ["DISKIMAGE"]
    for name, value in (
        ("DiskImageFormat", image.get("Format")),
        ("DiskImageSize", image.get("Size")),
        ("VolumeId", volume.get("Id")),
        ("VolumeSize", volume.get("Size")),
        ("AvailabilityZone", disk.get("AvailabilityZone")),
        ("ApproximateBytesConverted", disk.get("BytesConverted")),
        ("Status", disk.get("Status")),
        ("StatusMessage", disk.get("StatusMessage")),
    ):
        if value:
            bits += [name, value]
    return bits


def _import_arguments(p: argparse.ArgumentParser, *, zone_required: bool = True) -> None:
    p.add_argument("image", metavar="FILE", help="file holding the disk image to import")
    p.add_argument(
        "-f", "--format", required=True, choices=FORMATS, type=str.lower, help="the image's format"
    )
    p.add_argument(
        "-z", "--availability-zone", required=zone_required, metavar="ZONE",
        help="zone of the new volume",
    )  # fmt: skip
    p.add_argument("-b", "--bucket", required=True, help="bucket to upload the image to")
    p.add_argument("-o", "--owner-akid", metavar="KEY-ID", help="access key of the bucket's owner")
    p.add_argument("-w", "--owner-sak", metavar="KEY", help="secret key of the bucket's owner")
    p.add_argument("--prefix", help="prefix of the uploaded parts' names")
    p.add_argument("-s", "--size", "--volume-size", type=int, metavar="GiB", help="volume size")
    p.add_argument("-d", "--description", help="description of the import task")
    p.add_argument(
        "-x", "--expires", type=int, default=30, metavar="DAYS", help="the manifest's lifetime"
    )


def _s3(ctx: Context, args: argparse.Namespace) -> Any:
    if bool(args.owner_akid) != bool(args.owner_sak):
        raise CommandError("--owner-akid and --owner-sak go together", status=2)
    if not args.owner_akid:
        return ctx.client("s3")
    from mallee.euca.clients import make_client

    keys = env.Credentials(args.owner_akid, args.owner_sak)
    return make_client("s3", ctx.url("s3"), env.region(ctx.environ, ctx.args.region), keys)


def _image_file(args: argparse.Namespace) -> tuple[Path, int]:
    path = Path(args.image)
    if not path.is_file():
        raise CommandError(f"argument FILE: no such file: {args.image}", status=2)
    if args.expires < 1:
        raise CommandError("argument -x/--expires: value must be positive", status=2)
    size = path.stat().st_size
    if size == 0:
        raise CommandError(f"{args.image} is empty", status=2)
    return path, size


def upload(ctx: Context, args: argparse.Namespace, path: Path, size: int, volume_size: int) -> str:
    """The image uploaded to the bucket as parts plus an import manifest, as euca2ools does;
    the manifest's presigned GET URL (signed by the bucket owner's keys when given)."""
    s3 = _s3(ctx, args)
    try:
        s3.head_bucket(Bucket=args.bucket)
    except ClientError:
        s3.create_bucket(Bucket=args.bucket)
    prefix = f"{args.prefix.strip('/')}/" if args.prefix else ""
    prefix += f"{uuid.uuid4()}/"
    parts = split(size, prefix, path.name)
    with path.open("rb") as fh:
        for part in parts:
            fh.seek(part.start)
            s3.put_object(Bucket=args.bucket, Key=part.key, Body=fh.read(part.end - part.start + 1))
    seconds = min(args.expires * 86400, MAX_URL_SECONDS)
    methods = {"GET": "get_object", "HEAD": "head_object", "DELETE": "delete_object"}

    def presign(method: str, key: str) -> str:
        return str(
            s3.generate_presigned_url(
                methods[method], Params={"Bucket": args.bucket, "Key": key}, ExpiresIn=seconds
            )
        )

    manifest_key = f"{prefix}{path.name}.manifest.xml"
    manifest = build(args.format, size, volume_size, parts, manifest_key, presign)
    s3.put_object(Bucket=args.bucket, Key=manifest_key, Body=manifest)
    return presign("GET", manifest_key)


def _import(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    path, size = _image_file(args)
    volume_size = args.size or max(1, math.ceil(size / (1 << 30)))
    params: dict[str, Any] = {
        "Image": {
            "Format": args.format.upper(),
            "Bytes": size,
            "ImportManifestUrl": upload(ctx, args, path, size, volume_size),
        },
        "Volume": {"Size": volume_size},
        "AvailabilityZone": args.availability_zone,
    }
    if args.description:
        params["Description"] = args.description
    yield from task_lines(ctx.client().import_volume(**params)["ConversionTask"])


def _instance_arguments(p: argparse.ArgumentParser) -> None:
    _import_arguments(p, zone_required=False)
    p.add_argument(
        "-t", "--instance-type", metavar="INSTANCETYPE",
        help="the type of instance to import to (default m1.small)",
    )  # fmt: skip
    p.add_argument(
        "-a", "--architecture", required=True, metavar="ARCH",
        help="the instance's processor architecture",
    )  # fmt: skip
    p.add_argument(
        "-p", "--platform", default="Linux", choices=("Windows", "Linux"),
        help="the instance's operating system",
    )  # fmt: skip
    p.add_argument("-g", "--group", metavar="GROUP", help="security group of the instance")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--user-data", metavar="DATA", help="user data for the instance")
    data.add_argument("--user-data-file", metavar="FILE", help="file of user data")
    p.add_argument("--monitor", action="store_true", help="enable detailed monitoring")
    p.add_argument(
        "--instance-initiated-shutdown-behavior", choices=("stop", "terminate"),
        help='whether to "stop" (default) or terminate the instance when it shuts down',
    )  # fmt: skip
    p.add_argument("--key", metavar="KEYPAIR", help="[Eucalyptus] key pair of the instance")


def _import_instance(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    path, size = _image_file(args)
    volume_size = args.size or max(1, math.ceil(size / (1 << 30)))
    spec: dict[str, Any] = {"Architecture": args.architecture}
    if args.instance_type:
        spec["InstanceType"] = args.instance_type
    if args.group:
        spec["GroupNames"] = [args.group]
    if args.availability_zone:
        spec["Placement"] = {"AvailabilityZone": args.availability_zone}
    data: bytes | None = None
    if args.user_data is not None:
        data = args.user_data.encode()
    elif args.user_data_file:
        data = Path(args.user_data_file).read_bytes()
    if data is not None:
        spec["UserData"] = {"Data": base64.b64encode(data).decode()}
    if args.monitor:
        spec["Monitoring"] = True
    if args.instance_initiated_shutdown_behavior:
        spec["InstanceInitiatedShutdownBehavior"] = args.instance_initiated_shutdown_behavior
    if args.key:
        spec["KeyName"] = args.key
    params: dict[str, Any] = {
        "Platform": args.platform,
        "LaunchSpecification": spec,
        "DiskImages": [
            {
                "Image": {
                    "Format": args.format.upper(),
                    "Bytes": size,
                    "ImportManifestUrl": upload(ctx, args, path, size, volume_size),
                },
                "Volume": {"Size": volume_size},
            }
        ],
    }
    if args.description:
        params["Description"] = args.description
    yield from task_lines(ctx.client().import_instance(**params)["ConversionTask"])


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", nargs="*", metavar="TASK", help="limit results to these tasks")


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"ConversionTaskIds": args.task} if args.task else {}
    for task in ctx.client().describe_conversion_tasks(**params).get("ConversionTasks") or []:
        yield from task_lines(task)


def _cancel_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", metavar="TASK-ID", help="the import task to cancel")


def _cancel(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().cancel_conversion_task(ConversionTaskId=args.task)
    return iter(())


IMPORT_INSTANCE = Command(
    "euca-import-instance",
    "Import an instance into the cloud",
    "ec2",
    _instance_arguments,
    _import_instance,
)
IMPORT_VOLUME = Command(
    "euca-import-volume",
    "Import a file to a volume in the cloud",
    "ec2",
    _import_arguments,
    _import,
)
DESCRIBE_CONVERSION_TASKS = Command(
    "euca-describe-conversion-tasks",
    "Show information about import operations",
    "ec2",
    _describe_arguments,
    _describe,
)
CANCEL_CONVERSION_TASK = Command(
    "euca-cancel-conversion-task", "Cancel an import task", "ec2", _cancel_arguments, _cancel
)
