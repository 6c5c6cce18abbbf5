"""HTML built from templates where every value is escaped unless it is already `Html`.

Templates are constants in the code; the values put into them come from the cloud or the user
and are escaped by default, so forgetting to escape is not possible by omission.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlencode


class Html(str):
    """Text that is already safe HTML (built by this module from escaped parts)."""

    __slots__ = ()


def escape(value: object) -> Html:
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def render(template: str, **values: object) -> Html:
    """`template` with each {name} replaced by the escaped value."""
    return Html(template.format_map({k: escape(v) for k, v in values.items()}))


def join(parts: Iterable[object], separator: str = "") -> Html:
    return Html(separator.join(escape(p) for p in parts))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], empty: str = "None") -> Html:
    head = join(render("<th>{h}</th>", h=h) for h in headers)
    body = [join(render("<td>{c}</td>", c=c) for c in row) for row in rows]
    if not body:
        return render('<p class="empty">{empty}</p>', empty=empty)
    trs = join(render("<tr>{cells}</tr>", cells=cells) for cells in body)
    return render(
        "<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>", head=head, trs=trs
    )


def hidden(name: str, value: object) -> Html:
    return render('<input type="hidden" name="{name}" value="{value}">', name=name, value=value)


def field(
    label: str, name: str, *, value: object = "", kind: str = "text", required: bool = False
) -> Html:
    flag = Html(" required") if required else Html("")
    return render(
        '<label>{label} <input type="{kind}" name="{name}" value="{value}"{flag}></label>',
        label=label,
        kind=kind,
        name=name,
        value=value,
        flag=flag,
    )


def textarea(label: str, name: str, rows: int = 4) -> Html:
    return render(
        '<label>{label} <textarea name="{name}" rows="{rows}"></textarea></label>',
        label=label,
        name=name,
        rows=rows,
    )


def select(label: str, name: str, options: Iterable[tuple[str, str]], selected: str = "") -> Html:
    """A drop-down of (value, text) pairs."""
    opts = join(
        render(
            '<option value="{v}"{s}>{t}</option>',
            v=v,
            t=t,
            s=Html(" selected") if v == selected else Html(""),
        )
        for v, t in options
    )
    return render(
        '<label>{label} <select name="{name}">{opts}</select></label>',
        label=label,
        name=name,
        opts=opts,
    )


def form(
    action: str,
    csrf: str,
    body: Iterable[object],
    submit: str,
    *,
    multipart: bool = False,
    css: str = "",
) -> Html:
    """A POST form carrying the session's CSRF token."""
    enctype = Html(' enctype="multipart/form-data"') if multipart else Html("")
    return render(
        '<form method="post" action="{action}" class="{css}"{enctype}>{token}{body}'
        '<button type="submit">{submit}</button></form>',
        action=action,
        css=css,
        enctype=enctype,
        token=hidden("_csrf", csrf),
        body=join(body),
        submit=submit,
    )


def button(action: str, csrf: str, values: Mapping[str, object], label: str) -> Html:
    """A one-button form: a row action such as Delete or Terminate."""
    fields = [hidden(k, v) for k, v in values.items()]
    return form(action, csrf, fields, label, css="inline")


def link(href: str, text: object) -> Html:
    return render('<a href="{href}">{text}</a>', href=href, text=text)


def section(title: str, *body: object) -> Html:
    return render("<section><h2>{title}</h2>{body}</section>", title=title, body=join(body))


def url(path: str, **params: object) -> str:
    """`path` with its query parameters percent-encoded (escape it when put in HTML)."""
    query = urlencode({k: str(v) for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path
