"""Images: euca-describe-images, euca-register, euca-install-image.

The server registers an image from an object in the object store ("bucket/key": the image
file itself, not an encrypted bundle) or, for the cloud administrator, from a local file
("file:/absolute/path"). So euca-install-image -b BUCKET uploads the image file to BUCKET and
registers it from there; without -b it registers the local file where it is. A MANIFEST that
names a local file is sent as file:<absolute path>.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.commands.instances import block_device_mapping
from mallee.euca.ec2_lines import image_lines
from mallee.euca.errors import CommandError
from mallee.euca.paging import all_items

ARCHITECTURES = ("i386", "x86_64", "armhf", "arm64")


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", nargs="*", metavar="IMAGE", help="limit to these images")
    p.add_argument("-a", "--all", action="store_true", help="describe all images")
    p.add_argument("-o", "--owner", action="append", default=[], metavar="ACCOUNT")
    p.add_argument("-x", "--executable-by", action="append", default=[], metavar="ACCOUNT")
    opts.add_filters(p)


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    if args.all and (args.image or args.owner or args.executable_by):
        raise CommandError("argument -a/--all: not allowed with images, -o or -x", status=2)
    base: dict[str, Any] = {}
    if args.filter:
        base["Filters"] = opts.filters(args.filter)
    if args.image:
        base["ImageIds"] = args.image
    if args.owner:
        base["Owners"] = args.owner
    if args.executable_by:
        base["ExecutableUsers"] = args.executable_by
    client = ctx.client()
    if args.all or args.image or args.owner or args.executable_by:
        images = all_items(client, "describe_images", "Images", **base)
    else:
        # euca2ools' default: the images you own plus those you were explicitly granted.
        images = all_items(client, "describe_images", "Images", Owners=["self"], **base)
        images += all_items(client, "describe_images", "Images", ExecutableUsers=["self"], **base)
    unique = {i["ImageId"]: i for i in reversed(images)}
    for image_id in sorted(unique):
        yield from image_lines(unique[image_id])


def location(manifest: str) -> str:
    """A local file becomes file:<absolute path>, which the server registers directly."""
    if manifest.startswith("file:") or "://" in manifest:
        return manifest
    path = Path(manifest)
    if path.is_file():
        return f"file:{path.resolve()}"
    return manifest


def _common_image_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--name", required=True, help="name of the new image")
    p.add_argument("-d", "--description", help="description of the new image")
    p.add_argument("-a", "-r", "--architecture", "--arch", choices=ARCHITECTURES, dest="arch")
    p.add_argument("--kernel", metavar="KERNEL", help="kernel to associate with the image")
    p.add_argument("--ramdisk", metavar="RAMDISK", help="ramdisk to associate with the image")
    p.add_argument("--virtualization-type", choices=("paravirtual", "hvm"))
    p.add_argument("--platform", choices=("windows",))


def _register_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", nargs="?", metavar="MANIFEST", help="image manifest (or file)")
    _common_image_arguments(p)
    p.add_argument("--root-device-name", metavar="DEVICE", help="default /dev/sda1")
    p.add_argument("-s", "--snapshot", help="snapshot for the root device (EBS images)")
    p.add_argument(
        "-b", "--block-device-mapping", action="append", default=[], metavar="DEVICE=MAPPED"
    )


def _register_params(args: argparse.Namespace, image_location: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"Name": args.name}
    simple = {
        "ImageLocation": image_location,
        "Description": args.description,
        "Architecture": args.arch,
        "KernelId": args.kernel,
        "RamdiskId": args.ramdisk,
        "VirtualizationType": args.virtualization_type,
    }
    params.update({k: v for k, v in simple.items() if v})
    return params


def _register(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    mappings = [block_device_mapping(b) for b in args.block_device_mapping]
    if args.manifest:
        if args.root_device_name or args.snapshot:
            raise CommandError(
                "--root-device-name and -s are for EBS images, not MANIFEST", status=2
            )
        params = _register_params(args, location(args.manifest))
    else:
        root = args.root_device_name or "/dev/sda1"
        if args.snapshot and not any(m["DeviceName"] == root for m in mappings):
            mappings.append({"DeviceName": root, "Ebs": {"SnapshotId": args.snapshot}})
        if not any(m["DeviceName"] == root for m in mappings):
            raise CommandError(
                "either a manifest location or a root device snapshot mapping must be specified",
                status=2,
            )
        params = _register_params(args, None)
        params["RootDeviceName"] = root
    if mappings:
        params["BlockDeviceMappings"] = mappings
    yield ["IMAGE", ctx.client().register_image(**params).get("ImageId")]


def _install_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--image", required=True, metavar="FILE", help="image file to install")
    _common_image_arguments(p)
    p.add_argument("-b", "--bucket", help="bucket to upload the image to (made if missing)")
    p.add_argument("--progress", action="store_true", help="accepted for euca2ools")
    p.add_argument("--no-progress", action="store_true", help="accepted for euca2ools")
    p.epilog = (
        "With -b the image file is uploaded to the bucket and registered from it; without, "
        "the file is registered where it is (file:<path>: the cloud's host, cloud admin only)."
    )


def _install(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    path = Path(args.image)
    if not path.is_file():
        raise CommandError(f"argument -i/--image: no such file: {args.image}", status=2)
    location = f"file:{path.resolve()}"
    if args.bucket:
        s3 = ctx.client("s3")
        try:
            s3.head_bucket(Bucket=args.bucket)
        except ClientError:
            s3.create_bucket(Bucket=args.bucket)
        key = f"{args.name}/{path.name}"
        with path.open("rb") as body:  # streamed, not read into memory
            s3.put_object(Bucket=args.bucket, Key=key, Body=body)
        location = f"{args.bucket}/{key}"
    params = _register_params(args, location)
    yield ["IMAGE", ctx.client().register_image(**params).get("ImageId")]


DESCRIBE_IMAGES = Command(
    "euca-describe-images", "Show information about images", "ec2", _describe_arguments, _describe
)
REGISTER = Command("euca-register", "Register a new image", "ec2", _register_arguments, _register)
INSTALL_IMAGE = Command(
    "euca-install-image",
    "Install an image file as a new image",
    "ec2",
    _install_arguments,
    _install,
)
