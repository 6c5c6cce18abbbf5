"""Server certificates: Upload, Get, List, Update and DeleteServerCertificate, and their tags.

They serve HTTPS and SSL load balancer listeners, which name them by ARN. The private key is
sealed (identity/server_certificates.py) and never answered. The listeners' table is the
store's, shared: a certificate a listener uses cannot be deleted (DeleteConflict), and a
renamed or moved certificate's new ARN is written into the listeners that used the old one,
as AWS keeps them serving it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.identity import server_certificates as sealed
from mallee.identity.arns import iam_arn
from mallee.identity.authz import policies_changed
from mallee.identity.clock import aware
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.iam import certificates, tags
from mallee.services.iam.common import check_path
from mallee.services.iam.entities import EntityKind
from mallee.services.iam.errors import delete_conflict
from mallee.services.iam.scope import Scope, scope_for
from mallee.services.iam.transactions import reads, writes
from mallee.store import Store
from mallee.store.tables.elb import ElbListener, ElbLoadBalancer, bump_elb
from mallee.store.tables.iam import IamServerCertificate

CERTIFICATES: EntityKind[IamServerCertificate] = EntityKind(
    IamServerCertificate,
    id_prefix="ASCA",
    arn_kind="server-certificate",
    title="ServerCertificate",
    quota=20,
    missing="The Server Certificate with name {} cannot be found.",
    taken="The Server Certificate with name {} already exists.",
)
_NAMED = frozenset(
    {
        "GetServerCertificate",
        "UpdateServerCertificate",
        "DeleteServerCertificate",
        "TagServerCertificate",
        "UntagServerCertificate",
        "ListServerCertificateTags",
    }
)


def metadata(cert: IamServerCertificate) -> dict[str, Any]:
    return {
        "Path": cert.path,
        "ServerCertificateName": cert.name,
        "ServerCertificateId": cert.id,
        "Arn": cert.arn,
        "UploadDate": aware(cert.created_at),
        "Expiration": aware(cert.expiration),
    }


def upload_server_certificate(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = CERTIFICATES.check_name(params.get("ServerCertificateName"))
    path = check_path(params.get("Path"))
    checked = certificates.check(
        params.get("CertificateBody"), params.get("PrivateKey"), params.get("CertificateChain")
    )
    key = sealed.seal(checked.key, rt.settings.data_dir)
    with rt.store.session() as s:
        scope = scope_for(s, ctx.principal, params)
        cert = CERTIFICATES.add(
            s,
            scope.account_id,
            name,
            path,
            arn=iam_arn(scope.account_id, "server-certificate", path, name),
            body=checked.body,
            chain=checked.chain,
            sealed_key=key,
            expiration=checked.expiration,
        )
        if params.get("Tags"):
            tags.put_tags(s, cert.id, params.get("Tags"))
        out: Result = {"ServerCertificateMetadata": metadata(cert)}
        if params.get("Tags"):
            out["Tags"] = tags.tag_list(s, cert.id)
    policies_changed()
    return out


def get_server_certificate(s: Session, scope: Scope, params: Params) -> Result:
    cert = CERTIFICATES.named(s, scope, params)
    out: dict[str, Any] = {
        "ServerCertificateMetadata": metadata(cert),
        "CertificateBody": cert.body,
        "Tags": tags.tag_list(s, cert.id),
    }
    if cert.chain:
        out["CertificateChain"] = cert.chain
    return {"ServerCertificate": out}


def list_server_certificates(s: Session, scope: Scope, params: Params) -> Result:
    found, page = CERTIFICATES.page(s, scope.account_id, params)
    return {"ServerCertificateMetadataList": [metadata(c) for c in found], **page}


def update_server_certificate(s: Session, scope: Scope, params: Params) -> Result:
    cert = CERTIFICATES.named(s, scope, params)
    old = cert.arn
    CERTIFICATES.update(
        s,
        cert,
        params.get("NewServerCertificateName"),
        params.get("NewPath"),
        "newServerCertificateName",
    )
    cert.arn = iam_arn(cert.account_id, "server-certificate", cert.path, cert.name)
    if cert.arn != old:
        moved = s.execute(
            update(ElbListener)
            .where(ElbListener.ssl_certificate_id == old)
            .values(ssl_certificate_id=cert.arn)
        )
        if moved.rowcount:  # type: ignore[attr-defined]
            bump_elb(s)
    return {}


def delete_server_certificate(s: Session, scope: Scope, params: Params) -> Result:
    cert = CERTIFICATES.named(s, scope, params)
    user = s.execute(
        select(ElbLoadBalancer.name)
        .join(ElbListener, ElbListener.lb_id == ElbLoadBalancer.id)
        .where(ElbListener.ssl_certificate_id == cert.arn)
    ).first()
    if user is not None:
        raise delete_conflict(
            f"Certificate: {cert.id} is currently in use by load balancer {user[0]}. Please "
            "remove it from the load balancer's listeners first."
        )
    tags.drop_all(s, cert.id)
    s.delete(cert)
    return {}


def tag_server_certificate(s: Session, scope: Scope, params: Params) -> Result:
    tags.put_tags(s, CERTIFICATES.named(s, scope, params).id, params.get("Tags"))
    return {}


def untag_server_certificate(s: Session, scope: Scope, params: Params) -> Result:
    tags.remove_tags(s, CERTIFICATES.named(s, scope, params).id, params.get("TagKeys"))
    return {}


def list_server_certificate_tags(s: Session, scope: Scope, params: Params) -> Result:
    return tags.list_tags(s, CERTIFICATES.named(s, scope, params).id, params)


def resources(store: Store, ctx: RequestContext) -> list[str] | None:
    """The certificate ARN a server certificate operation acts on; None for other operations."""
    op, params = ctx.operation_name, ctx.params
    if op != "UploadServerCertificate" and op not in _NAMED:
        return None
    name = str(params.get("ServerCertificateName") or "")
    with store.read() as s:
        account_id = scope_for(s, ctx.principal, params).account_id
        if op == "UploadServerCertificate":
            path = str(params.get("Path") or "/")
        else:
            path = CERTIFICATES.path_of(s, account_id, name)
    return [iam_arn(account_id, "server-certificate", path, name)]


OPERATIONS: Operations = {
    "UploadServerCertificate": upload_server_certificate,
    "GetServerCertificate": reads(get_server_certificate),
    "ListServerCertificates": reads(list_server_certificates),
    "UpdateServerCertificate": writes(update_server_certificate),
    "DeleteServerCertificate": writes(delete_server_certificate),
    "TagServerCertificate": writes(tag_server_certificate),
    "UntagServerCertificate": writes(untag_server_certificate),
    "ListServerCertificateTags": reads(list_server_certificate_tags),
}
