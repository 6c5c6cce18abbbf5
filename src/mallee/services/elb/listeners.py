"""CreateLoadBalancerListeners, DeleteLoadBalancerListeners and
SetLoadBalancerListenerSSLCertificate."""

from __future__ import annotations

from sqlalchemy import delete, select

from mallee.api.context import RequestContext
from mallee.identity import server_certificates
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.elb import checks, errors, rows
from mallee.services.elb.load_balancers import (
    MAX_LISTENERS,
    as_listener,
    check_certificates,
    check_new_listeners,
    listener_row,
)
from mallee.store.tables.elb import ElbListener, bump_elb


def create_load_balancer_listeners(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    items = checks.listeners(params.get("Listeners"))
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        check_new_listeners(lb.name, items)
        have = {
            r.lb_port: r for r in s.scalars(select(ElbListener).where(ElbListener.lb_id == lb.id))
        }
        new = []
        for item in items:
            old = have.get(item.lb_port)
            if old is None:
                new.append(item)
            elif as_listener(old) != item:
                raise errors.duplicate_listener(lb.name, item.lb_port)
        checks.instance_protocols_agree([*(as_listener(r) for r in have.values()), *new])
        if len(have) + len(new) > MAX_LISTENERS:
            raise errors.invalid_configuration(
                f"A load balancer may have at most {MAX_LISTENERS} listeners"
            )
        check_certificates(s, ctx.principal.account_id, new)
        for item in new:
            s.add(listener_row(lb.id, item))
        if new:
            bump_elb(s)
    return {}


def delete_load_balancer_listeners(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    ports = [checks.port(p, "LoadBalancerPort") for p in params.get("LoadBalancerPorts") or []]
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        # AWS: a port with no listener is ignored.
        s.execute(
            delete(ElbListener).where(ElbListener.lb_id == lb.id, ElbListener.lb_port.in_(ports))
        )
        bump_elb(s)
    return {}


def set_load_balancer_listener_ssl_certificate(
    rt: Runtime, ctx: RequestContext, params: Params
) -> Result:
    port = checks.port(params.get("LoadBalancerPort"), "LoadBalancerPort")
    arn = str(params.get("SSLCertificateId") or "")
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        listener = s.get(ElbListener, (lb.id, port))
        if listener is None:
            raise errors.listener_not_found(lb.name, port)
        if listener.protocol not in checks.SECURE:
            raise errors.invalid_configuration(
                f"The listener on port {port} uses {listener.protocol}: only HTTPS and SSL "
                "listeners have a certificate"
            )
        if server_certificates.find(s, arn, ctx.principal.account_id) is None:
            raise errors.certificate_not_found(arn)
        listener.ssl_certificate_id = arn
        bump_elb(s)
    return {}


OPERATIONS: Operations = {
    "CreateLoadBalancerListeners": create_load_balancer_listeners,
    "DeleteLoadBalancerListeners": delete_load_balancer_listeners,
    "SetLoadBalancerListenerSSLCertificate": set_load_balancer_listener_ssl_certificate,
}
