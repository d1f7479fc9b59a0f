"""Helpers shared by several test modules."""
from __future__ import annotations

from contextlib import contextmanager


# --- counting SQL statements ----------------------------------------------------

@contextmanager
def sql_statements(engine=None):
    """Collect the SQL statements sent to the database inside the block (a before_cursor_execute listener).

    Transaction control (BEGIN, SAVEPOINT, SQLite's PRAGMAs) is left out: it is not work the code asked for.
    """
    from sqlalchemy import event as sa_event

    from scheduler.extensions import db

    engine = engine or db.engine
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


# --- logging in -----------------------------------------------------------------

def committed_account() -> str:
    """A new organiser's e-mail, with the test's transaction ended (on SQLite it would hold the write lock)."""
    from scheduler.extensions import db

    from . import factories as make

    email = make.user().email
    db.session.commit()
    return email


def login_from(client, email, password, address="198.51.100.7"):
    """POST the login form as a client at `address` (limits count per address)."""
    return client.post("/login?lang=en", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


# --- confirmation pages -----------------------------------------------------------

def confirmation_form(page: str) -> tuple[str, dict]:
    """The action and hidden fields of a confirmation page's form (the one carrying `confirm`)."""
    import html
    import re

    for form in re.findall(r"<form\b[^>]*>.*?</form>", page, re.S):
        if 'name="confirm"' in form:
            action = html.unescape(re.search(r'action="([^"]*)"', form).group(1))
            fields = {html.unescape(name): html.unescape(value) for name, value in
                      re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', form)}
            return action, fields
    raise AssertionError("the page has no confirmation form")


def confirm(client, url: str):
    """Open a step's confirmation page at `url` and press its confirm button; the POST's response."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    action, fields = confirmation_form(page.get_data(as_text=True))
    return client.post(action, data=fields)


# --- importing a list of invitees ----------------------------------------------------

def confirm_import(client, preview):
    """Press "Add" on an import preview: POST its confirm form's hidden fields, as a browser would; the response."""
    import html
    import re

    page = preview.get_data(as_text=True)
    form = re.search(r'<form\b[^>]*id="confirm-import"[^>]*>.*?</form>', page, re.S)
    assert form is not None, "the preview offers nothing to add"
    action = html.unescape(re.search(r'action="([^"]*)"', form.group(0)).group(1))
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", form.group(0)):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag, re.S)
        if name:
            fields[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    return client.post(action, data=fields, follow_redirects=True)


# --- reading a page as a person sees it ------------------------------------------------

def ticked(page: str, name: str) -> list[str]:
    """The values of the ticked checkboxes called `name`, in page order."""
    import html
    import re

    values = []
    for tag in re.findall(r"<input\b[^>]*>", page):
        if f'name="{name}"' in tag and 'type="checkbox"' in tag and re.search(r"\schecked\b", tag):
            values.append(html.unescape(re.search(r'value="([^"]*)"', tag).group(1)))
    return values


def visible_text(page: str) -> str:
    """The page's text without tags, attributes, scripts and styles: what a reader sees (URLs not included)."""
    import html
    import re

    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def logged_in_organiser(client, org=None, **flags):
    """A new organiser of `org` with the given account flags (is_lead=True, is_admin=True), logged in on `client`
    and reading pages in Polish."""
    from scheduler.extensions import db

    from . import factories as make

    user = make.user(org)
    for flag, value in flags.items():
        setattr(user, flag, value)
    db.session.commit()
    make.login(client, user, lang="pl")
    return user


# The logo strip of a project (issue 12): a stand-in drawn here, stored as the projects feature stores it.
FUNDING = "Projekt „Liderzy kooperacji” współfinansowany ze środków Unii Europejskiej w ramach EFS."


def strip_png(colour: str = "navy") -> bytes:
    """A wide PNG like the strip a managing authority hands out (four logos on white)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1200, 150), "white")
    draw = ImageDraw.Draw(image)
    for n in range(4):
        draw.rectangle((20 + n * 300, 20, 260 + n * 300, 130), fill=colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def project_with_strip(organiser, data: bytes | None = None):
    """The organiser's organisation leads a project with a logo strip (stored as the projects feature stores it)."""
    import hashlib

    from scheduler.extensions import db
    from scheduler.projects.models import Project

    data = data or strip_png()
    project = Project(name=f"Liderzy kooperacji {hashlib.sha256(data).hexdigest()[:6]}", funding_sentence=FUNDING,
                      lead_organisation_id=organiser.organisation_id, logo_strip=data,
                      logo_strip_version=hashlib.sha256(data).hexdigest()[:16])
    db.session.add(project)
    db.session.commit()
    return project
