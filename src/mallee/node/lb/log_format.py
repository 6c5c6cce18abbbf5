"""What a worker's HAProxy logs of each request, and the ELB access log line made of it.

HAProxy sends one datagram per request (`format raw`: the line alone, no syslog header) in a
layout of its variables that is easy to read back, not ELB's own: ELB's line needs arithmetic
over HAProxy's timers (request processing is the time to read the request plus queue plus
connect) and the request's full URL, which HAProxy's log-format cannot do. `elb_line` turns one
into the other. Quoted fields cannot hold a quote: HAProxy writes `"` in the request line and
captured headers as `#22`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_PREFIX = "%Ts.%ms %ci %cp %si %sp %fp"
HTTP_FORMAT = (
    f"H {_PREFIX} %TR %Tw %Tc %Tr %Td %ST %U %B %sslc %sslv"
    " %{+Q}r %{+Q}[capture.req.hdr(0)] %{+Q}[capture.req.hdr(1)]"
)
TCP_FORMAT = f'T {_PREFIX} 0 %Tw %Tc 0 %Td 0 %U %B %sslc %sslv "-" "-" "-"'
# The request headers captured for the log, in HTTP_FORMAT's order.
CAPTURES = ("User-Agent", "Host")
CAPTURE_LEN = 512
_LINE = re.compile(r'([HT]) ((?:\S+ ){16})"([^"]*)" "([^"]*)" "([^"]*)"\s*')


def frontend_lines(socket: str, http: bool) -> list[str]:
    """What a frontend needs to log each request to `socket` (a unix datagram socket)."""
    lines = [f"    log {socket} len 8192 format raw local0 info"]
    if http:
        lines += [
            f"    http-request capture req.hdr({name}) len {CAPTURE_LEN}" for name in CAPTURES
        ]
        lines.append(f"    log-format {_escaped(HTTP_FORMAT)}")
    else:
        lines.append(f"    log-format {_escaped(TCP_FORMAT)}")
    return lines


def _escaped(text: str) -> str:
    # One argument: spaces and quotes escaped as HAProxy's configuration reads them.
    return text.replace("\\", "\\\\").replace('"', '\\"').replace(" ", "\\ ")


def _seconds(ms: str) -> float:
    return int(ms) / 1000.0


def elb_line(raw: str, lb_name: str, scheme: str) -> str | None:
    """ELB's classic access log line for one of HAProxy's, None for what is not one.
    `scheme` is the listener's (http or https) for the request's URL."""
    found = _LINE.fullmatch(raw.strip("\x00").rstrip("\n") + "\n")
    if not found:
        return None
    kind, fields, request, agent, host = found.groups()
    (when, client_ip, client_port, server_ip, server_port, front_port,
     read, queue, connect, response, data, status, received, sent, cipher,
     protocol) = fields.split()  # fmt: skip
    try:
        stamp = datetime.fromtimestamp(float(when), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        timers = [int(t) for t in (read, queue, connect, response, data)]
    except ValueError:
        return None
    backend = f"{server_ip}:{server_port}" if server_ip not in ("-", "") else "-"
    if kind == "T":
        times = [-1.0, -1.0, -1.0] if min(timers[1:3]) < 0 else [
            _seconds(str(timers[1])), _seconds(str(timers[2])), _seconds(str(max(0, timers[4])))
        ]  # fmt: skip
        codes, request, agent = "- -", "- - - ", "-"
    else:
        if min(timers[:4]) < 0:
            # Never dispatched, or no answer from the instance: ELB writes -1 for all three.
            times = [-1.0, -1.0, -1.0]
            codes = f"{status} -"
        else:
            times = [sum(timers[:3]) / 1000.0, timers[3] / 1000.0, max(0, timers[4]) / 1000.0]
            codes = f"{status} {status}"
        request = _full_url(request, scheme, host, front_port)
    return (
        f"{stamp} {lb_name} {client_ip}:{client_port} {backend} "
        f"{times[0]:.6f} {times[1]:.6f} {times[2]:.6f} {codes} {received} {sent} "
        f'"{request}" "{agent or "-"}" {cipher} {protocol}'
    )


def _full_url(request: str, scheme: str, host: str, port: str) -> str:
    """`GET /p HTTP/1.1` as ELB writes it: `GET http://host:80/p HTTP/1.1`."""
    parts = request.split(" ")
    if len(parts) != 3 or not parts[1].startswith("/"):
        return request
    name = host.rsplit(":", 1)[0] if host and not host.endswith("]") else host
    return f"{parts[0]} {scheme}://{name or '-'}:{port}{parts[1]} {parts[2]}"
