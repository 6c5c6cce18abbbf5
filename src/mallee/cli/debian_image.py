"""`mallee image build-debian --register`: the Debian image as public eki/eri/emi of the cloud.

Registered the way `mallee up` registers the default image (files on this host, owned by the
eucalyptus account, idempotent by name), so a rebuilt image keeps its ids.
"""

from __future__ import annotations

from mallee.cloud_identity import system_account_id
from mallee.config import Settings
from mallee.images.debian import DebianImage
from mallee.services.ec2.images import register_local_image
from mallee.store import Store

NAME = "debian-12"


def register_debian_image(settings: Settings, image: DebianImage) -> str:
    """The emi of the Debian image in the cloud whose database `settings` names."""
    store = Store(settings.database_url)
    try:
        owner = system_account_id(store)
        kernel = register_local_image(
            store, owner, name=f"{NAME}-kernel", path=image.kernel, image_type="kernel"
        )
        ramdisk = register_local_image(
            store, owner, name=f"{NAME}-ramdisk", path=image.ramdisk, image_type="ramdisk"
        )
        return register_local_image(
            store,
            owner,
            name=NAME,
            path=image.root,
            image_type="machine",
            kernel_id=kernel,
            ramdisk_id=ramdisk,
        )
    finally:
        store.dispose()
