"""The frame around every page: navigation, who is signed in, messages; and the style sheet."""

from __future__ import annotations

from mallee.console.html import Html, form, join, render
from mallee.console.session import Session
from mallee.console.web import PREFIX

NAV = (
    ("/", "Dashboard"),
    ("/instances", "Instances"),
    ("/images", "Images"),
    ("/keypairs", "Key pairs"),
    ("/security-groups", "Security groups"),
    ("/addresses", "Elastic IPs"),
    ("/buckets", "Buckets"),
)
ADMIN_NAV = (("/admin/services", "Services"), ("/admin/properties", "Properties"))

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2327; background: #f4f5f7; }
header { background: #24323f; color: #fff; padding: .6em 1.2em; display: flex;
  align-items: center; gap: 1.2em; flex-wrap: wrap; }
header a { color: #d7e3ee; text-decoration: none; }
header a.active, header a:hover { color: #fff; text-decoration: underline; }
header .brand { font-weight: 600; color: #fff; margin-right: .6em; }
header .who { margin-left: auto; color: #aebccb; }
header form { display: inline; }
main { padding: 1em 1.5em; max-width: 1200px; }
h1 { font-size: 1.5em; margin: .2em 0 .6em; }
h2 { font-size: 1.15em; margin: 1.2em 0 .4em; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 4px; padding: .4em 1em 1em;
  margin-bottom: 1em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e6e8eb;
  vertical-align: top; }
th { background: #f0f2f4; font-weight: 600; }
form { margin: .4em 0; }
form.inline { display: inline; margin: 0 .2em 0 0; }
label { display: inline-block; margin: .2em 1em .2em 0; }
input, select, textarea { font: inherit; padding: .2em .3em; }
textarea { width: 40em; max-width: 100%; vertical-align: top; }
button { font: inherit; padding: .2em .8em; cursor: pointer; }
.flash { padding: .5em 1em; border-radius: 4px; margin-bottom: 1em; }
.flash.ok { background: #e3f4e1; border: 1px solid #9fcf98; }
.flash.error { background: #fbe4e4; border: 1px solid #e0a2a2; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; }
.card { background: #fff; border: 1px solid #dde1e6; border-radius: 4px; padding: .8em 1.2em;
  min-width: 9em; }
.card .n { font-size: 1.8em; font-weight: 600; }
pre { background: #1d2327; color: #e8eaed; padding: 1em; overflow: auto; max-height: 40em; }
.empty { color: #6b7580; }
.login { max-width: 22em; margin: 4em auto; }
.login label { display: block; }
.login input { width: 100%; box-sizing: border-box; }
"""


def _nav(session: Session, active: str) -> Html:
    items = list(NAV) + (list(ADMIN_NAV) if session.is_cloud_admin else [])
    links = [
        render(
            '<a href="{href}"{css}>{text}</a>',
            href=PREFIX + path,
            text=text,
            css=Html(' class="active"') if path == active else Html(""),
        )
        for path, text in items
    ]
    logout = form(PREFIX + "/logout", session.csrf, [], "Sign out", css="inline")
    who = render(
        '<span class="who">{user}@{account}</span>', user=session.user, account=session.account
    )
    return render("{links}{who}{logout}", links=join(links), who=who, logout=logout)


def flashes(session: Session) -> Html:
    """The pending messages, shown once."""
    shown = join(
        render('<div class="flash {kind}">{text}</div>', kind=kind, text=text)
        for kind, text in session.flash
    )
    session.flash = []
    return shown


def page(session: Session, title: str, body: Html, active: str = "") -> Html:
    nav = _nav(session, active) if session.signed_in else Html("")
    return render(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title} - mallee console</title>"
        '<link rel="stylesheet" href="{css}"></head><body>'
        '<header><a class="brand" href="{home}">mallee</a>{nav}</header>'
        "<main><h1>{title}</h1>{flash}{body}</main></body></html>",
        title=title,
        css=PREFIX + "/style.css",
        home=PREFIX + "/",
        nav=nav,
        flash=flashes(session),
        body=body,
    )
