"""Every page, in every state people see it in, passes axe-core's WCAG 2.1 A/AA rules and reflows at 320 px.

WCAG 2.1 AA is law for Polish public bodies, and invitees open their personal
link on a phone. Each page is checked at 1280 px and at 320 px (WCAG 1.4.10):
zero axe-core violations of the wcag2a, wcag2aa, wcag21a and wcag21aa rules,
and nothing scrolls sideways except a data table inside its own focusable,
labelled `.table-scroll` region. At 1280 px every control's focus ring is
checked as well (2 px or more, 3:1 against what surrounds it). Problems of all
pages are collected and reported together, so one run shows everything wrong.
"""
from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from scheduler.extensions import db
from scheduler.registration.services import declare

from .. import factories as make
from .conftest import ARTIFACTS

WIDTHS = (1280, 320)
WCAG_RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
              "resultTypes": ["violations"]}
# Long words real data has: an institution's e-mail address and name must not push a phone's page sideways.
LONG_EMAIL = "sekretariat.powiatowego.centrum.pomocy.rodzinie@starostwo-ropczycko-sedziszowskie.example.org"
LONG_INSTITUTION = "Powiatowe Centrum Pomocy Rodzinie w Ropczycach (powiat ropczycko-sędziszowski)"

# What a sideways scroll would come from: the page wider than the window, or an element reaching past its right
# edge (clipped by an overflow:hidden somewhere, it would be unreadable instead). Inside .table-scroll is allowed.
SIDEWAYS = """() => {
  const root = document.documentElement, limit = root.clientWidth, found = [];
  if (root.scrollWidth > limit) found.push(`page is ${root.scrollWidth}px wide in a ${limit}px window`);
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.right <= limit + 1 || el.parentElement.closest('.table-scroll')) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                 (el.classList.length ? '.' + [...el.classList].join('.') : '');
    found.push(`${name} reaches ${Math.round(box.right)}px`);
  }
  for (const region of document.querySelectorAll('.table-scroll')) {
    if (region.getAttribute('role') !== 'region' || !region.getAttribute('aria-label') ||
        region.getAttribute('tabindex') !== '0') found.push('a .table-scroll without role, aria-label or tabindex');
  }
  for (const table of document.querySelectorAll('main table')) {
    if (!table.closest('.table-scroll') && table.scrollWidth > table.parentElement.clientWidth)
      found.push('a table wider than its box outside .table-scroll');
  }
  return found.slice(0, 6);
}"""


class Audit:
    """Checks pages as they are shown and remembers every problem, named by page, state and width."""

    def __init__(self, page, base: str):
        self.page, self.base = page, base
        self.axe = Axe()
        self.problems: list[str] = []
        self.checked: list[str] = []

    def check(self, name: str) -> None:
        for width in WIDTHS:
            # A resize lays the same document out again, as a phone would: a POST's answer is not sent twice.
            self.page.set_viewport_size({"width": width, "height": 900})
            where = f"{name} @ {width}px"
            self.checked.append(where)
            results = self.axe.run(self.page, options=WCAG_RULES).response
            assert len(results["passes"]) >= 5, f"{where}: axe-core did not run its rules"
            for violation in results["violations"]:
                targets = "; ".join(", ".join(map(str, node["target"])) for node in violation["nodes"][:4])
                self.problems.append(f"{where}: axe {violation['id']} ({violation['impact']}): {targets}")
            for finding in self.page.evaluate(SIDEWAYS):
                self.problems.append(f"{where}: sideways: {finding}")
            # WCAG 2.4.2: a title that says what the page is (and only that: no markup leaking into it).
            title = self.page.title()
            if not title.strip() or "<" in title or len(title) > 200:
                self.problems.append(f"{where}: page title {title[:80]!r}")
            if width == WIDTHS[0]:
                for finding in self.page.evaluate(FOCUS_RINGS):
                    self.problems.append(f"{where}: focus ring: {finding}")
            if self.problems and self.problems[-1].startswith(where):  # a picture of what went wrong
                ARTIFACTS.mkdir(exist_ok=True)
                slug = re.sub(r"[^a-z0-9]+", "-", where.lower()).strip("-")
                self.page.screenshot(path=str(ARTIFACTS / f"a11y-{slug}.png"), full_page=True)
        self.page.set_viewport_size({"width": WIDTHS[0], "height": 900})

    def visit(self, path: str, name: str) -> None:
        self.page.goto(self.base + path)
        self.check(name)

    def assert_clean(self) -> None:
        assert not self.problems, f"{len(self.problems)} problems on {len(self.checked)} checked views:\n" + \
            "\n".join(self.problems)


@pytest.fixture
def audit(page, live_server):
    return Audit(page, live_server)


def a_meeting(organiser, **overrides):
    """A published meeting with long words in it, as real ones have."""
    return make.event(organiser, title="Spotkanie informacyjne dla PCPR: testowanie Modelu Kooperacji",
                      contact_email=LONG_EMAIL, contact_name="Biuro projektu „Liderzy kooperacji”",
                      seats_per_institution=3, statements=["Oświadczam, że zapoznałem się z zasadami projektu."],
                      description="Zaproszenie kierowane do Powiatowych Centrów Pomocy Rodzinie.", **overrides)


def a_declaration(event, invitation=None):
    data = make.declaration(seats=2, institution=LONG_INSTITUTION, email=LONG_EMAIL,
                            consents={"rodo": True, "statements": [True] * len(event.statements)})
    return declare(event.id, data, invitation_token=invitation.token if invitation else None)


def test_invitee_pages_pass_axe_and_reflow_at_320_px(audit, page):
    audit.visit("/", "home without meetings")
    organiser = make.user()
    open_meeting = a_meeting(organiser, invite_only=False)
    by_invitation = a_meeting(organiser, invite_only=True)
    first, second = make.invitations(organiser, by_invitation, count=2)
    manage_token = a_declaration(by_invitation, second).manage_token
    open_id, invitation_id, token = open_meeting.id, by_invitation.id, first.token
    # SQLite: every transaction holds the write lock; end ours (and read nothing more) before the browser comes.
    db.session.commit()

    audit.visit("/", "home with meetings")
    audit.visit(f"/events/{open_id}", "public meeting page with the form")
    audit.visit(f"/events/{invitation_id}", "meeting by invitation")
    audit.visit(f"/i/{token}", "personal invitation page")
    page.click("#submit")  # nothing filled in
    page.locator("#form-errors").wait_for()
    audit.check("personal invitation page after a failed submit")

    page.fill("#contact_name", "Anna Kowalska")
    page.fill("#email", LONG_EMAIL)
    page.fill("#participants-0-name", "Anna Kowalska")
    page.check("#consent_rodo")
    page.check("#statements-0")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/confirmation$"))
    audit.check("confirmation")

    audit.visit(f"/m/{manage_token}", "manage page")
    audit.visit(f"/m/{manage_token}/withdraw", "withdraw step")
    page.click("button.danger")
    page.wait_for_url(re.compile(r"/m/[^/]+$"))
    audit.check("manage page after withdrawing")

    audit.visit("/accessibility", "accessibility statement")
    audit.visit("/events/2147483647", "404 page")
    audit.assert_clean()


def test_organiser_pages_pass_axe_and_reflow_at_320_px(audit, page):
    organiser = make.user()
    event = a_meeting(organiser, capacity=4)
    invitations = make.invitations(organiser, event, count=3)
    for invitation in invitations:
        a_declaration(event, invitation)  # two confirmed, one on the waiting list
    email, base = organiser.email, f"/organiser/events/{event.id}"
    db.session.commit()

    audit.visit("/login", "login")
    page.fill("#email", email)
    page.fill("#password", "wrong password")
    page.click("main button[type=submit]")
    page.locator("#password-error").wait_for()
    audit.check("login after a failed attempt")
    page.fill("#password", make.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/organiser/$"))
    audit.check("dashboard")

    audit.visit("/organiser/events/new", "new meeting form")
    # The organiser's form controls in the body's font size, not the browser's smaller default for controls.
    sizes = page.evaluate("""() => [...document.querySelectorAll('main input, main select, main textarea, main button')]
        .filter((el) => el.type !== 'hidden' && el.type !== 'checkbox' && el.type !== 'radio')
        .map((el) => getComputedStyle(el).fontSize)""")
    assert sizes and set(sizes) == {page.evaluate("getComputedStyle(document.body).fontSize")}
    page.fill("#title", "")
    page.click("main form [type=submit] >> nth=-1")
    page.locator(".has-error").first.wait_for()
    audit.check("meeting form with errors")

    audit.visit(base, "meeting overview")
    audit.visit(f"{base}/invitations", "invitations")
    add = "main form[action$='/invitations/add#add']"
    with page.expect_navigation():
        page.click(f"{add} button[type=submit]")  # nothing filled in
    audit.check("invitations after a failed add")
    page.fill(f"{add} [name=institution]", LONG_INSTITUTION)
    page.select_option(f"{add} [name=category]", "powiat")
    page.fill(f"{add} [name=email]", LONG_EMAIL)
    page.click(f"{add} button[type=submit]")
    page.locator(".flash").first.wait_for()
    audit.check("invitations after adding one")
    page.fill("#csv", f"Gminny Ośrodek Pomocy Społecznej w Gródku;gmina;{LONG_EMAIL}\nbez adresu;gmina;nie-adres")
    with page.expect_navigation():
        page.click("#import-form [type=submit]")
    audit.check("invitation list preview")
    audit.visit(f"{base}/declarations", "declarations")
    audit.visit(f"{base}/declarations/new", "declaration entered by the organiser")
    audit.visit(f"{base}/attendance", "attendance list")
    audit.visit(f"{base}/reminders", "reminders")
    audit.visit(f"{base}/mail", "mail log of the meeting")
    audit.visit("/organiser/mail", "mail overview")
    audit.visit(f"{base}/privacy", "personal data (RODO)")
    audit.visit("/account/tokens", "API tokens")
    page.fill("main form[action$='/account/tokens'] [name=name]", "eksport do sprawozdania")
    with page.expect_navigation():
        page.click("main form[action$='/account/tokens'] button[type=submit]")
    audit.check("API tokens with a new token shown")
    audit.visit("/accessibility", "accessibility statement (logged in)")
    audit.assert_clean()


def test_the_skip_link_is_the_first_stop_and_every_control_shows_a_focus_ring(page, live_server):
    organiser = make.user()
    event = a_meeting(organiser, invite_only=True)
    token = make.invitations(organiser, event)[0].token
    db.session.commit()
    page.goto(f"{live_server}/i/{token}")

    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.get_attribute("class") == "skip-link" and skip.get_attribute("href") == "#content"
    assert skip.is_visible() and skip.bounding_box()["y"] >= 0  # shown when it has the focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"

    # Every control of the form, the dark submit button too: a ring of 2 px or more, 3:1 against what is around.
    weak = page.evaluate(FOCUS_RINGS)
    assert weak == []


FOCUS_RINGS = """() => {
  const luminance = (rgb) => {
    const [r, g, b] = rgb.match(/[\\d.]+/g).slice(0, 3).map(Number).map((c) => {
      c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
                               return (x + 0.05) / (y + 0.05); };
  const around = (el) => {  // the background the ring is drawn on: the nearest opaque one outside el (inside if inset)
    const inset = parseFloat(getComputedStyle(el).outlineOffset) < 0;
    for (let node = inset ? el : el.parentElement; node; node = node.parentElement) {
      const colour = getComputedStyle(node).backgroundColor;
      if (!/rgba\\(.*, 0\\)$/.test(colour) && colour !== 'transparent') return colour;
    }
    return 'rgb(255, 255, 255)';
  };
  const weak = [];
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [tabindex="0"]')) {
    if (!el.getClientRects().length || el.closest('.default-submit')) continue;
    el.focus();
    const style = getComputedStyle(el);
    const ratio = contrast(style.outlineColor, around(el));
    if (style.outlineStyle === 'none' || parseFloat(style.outlineWidth) < 2 || ratio < 3)
      weak.push(`${el.tagName.toLowerCase()}#${el.id || ''}.${el.className}: ${style.outlineStyle} ` +
                `${style.outlineWidth} ${style.outlineColor} on ${around(el)} (${ratio.toFixed(1)}:1)`);
  }
  document.activeElement.blur();
  return weak;
}"""


def test_polish_content_in_english_pages_is_marked_as_polish(page, live_server):
    organiser = make.user()
    event = a_meeting(organiser, invite_only=True)
    invitation = make.invitations(organiser, event)[0]
    manage_token = a_declaration(event, make.invitations(organiser, event)[0]).manage_token
    token, institution = invitation.token, invitation.institution
    organiser_email, event_title, event_id = organiser.email, event.title, event.id
    db.session.commit()
    language_of = "(el) => el.closest('[lang]').getAttribute('lang')"

    page.goto(f"{live_server}/i/{token}?lang=en")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("#meeting-title").evaluate(language_of) == "pl"
    assert page.get_by_text("ul. Hetmańska 9").evaluate(language_of) == "pl"
    assert page.locator(".addressee strong").inner_text() == institution
    assert page.locator(".addressee strong").evaluate(language_of) == "pl"
    page.goto(f"{live_server}/m/{manage_token}")
    assert page.get_by_text(LONG_INSTITUTION).first.evaluate(language_of) == "pl"
    page.goto(f"{live_server}/i/{token}")  # the meeting's own statement, a checkbox label of the form
    assert page.get_by_text("Oświadczam, że zapoznałem się z zasadami projektu.").evaluate(language_of) == "pl"
    page.goto(f"{live_server}/accessibility")
    assert page.locator("#a11y-podmiot span").first.evaluate(language_of) == "pl"
    # The organiser's pages: meeting titles and institutions as people wrote them.
    page.goto(f"{live_server}/login")
    page.fill("#email", organiser_email)
    page.fill("#password", make.PASSWORD)
    page.click("main button[type=submit]")
    page.goto(f"{live_server}/organiser/?lang=en")
    assert page.get_by_text(event_title).first.evaluate(language_of) == "pl"
    page.goto(f"{live_server}/organiser/events/{event_id}/declarations")
    assert page.get_by_text(LONG_INSTITUTION).first.evaluate(language_of) == "pl"
    page.goto(f"{live_server}/organiser/events/{event_id}/invitations")
    assert page.get_by_text(institution).first.evaluate(language_of) == "pl"


def test_administration_and_meeting_day_pages_pass_axe_and_reflow_at_320_px(audit, page):
    from scheduler.presence.codes import check_in_code
    from scheduler.projects.models import Project

    admin = make.user(is_admin=True)
    admin.is_lead = True
    db.session.add(Project(name="Liderzy kooperacji", lead_organisation_id=admin.organisation_id,
                           funding_sentence="Projekt współfinansowany ze środków Europejskiego Funduszu Społecznego."))
    db.session.commit()
    event = a_meeting(admin, capacity=10)
    registration = a_declaration(event, make.invitations(admin, event, count=1)[0])
    email, base, code = admin.email, f"/organiser/events/{event.id}", check_in_code(registration.participants[0].id)
    db.session.commit()

    audit.visit("/account/reset", "forgotten password")
    audit.visit(f"/c/{code}", "check-in code opened by someone else")
    page.goto(audit.base + "/login")
    page.fill("#email", email)
    page.fill("#password", make.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/organiser/$"))
    audit.visit("/admin/organisations", "organisations")
    audit.visit("/admin/projects", "projects")
    audit.visit("/organiser/team", "organisers of the organisation")
    audit.visit("/organiser/settings", "organisation settings")
    audit.visit("/account/password", "change of password")
    audit.visit(f"/m/{registration.manage_token}", "manage page with check-in codes")
    audit.visit(f"{base}/check-in", "check-in")
    audit.visit(f"{base}/certificates/email", "e-mailing certificates (before the meeting has ended)")
    audit.visit(f"{base}/history", "history of changes")
    audit.visit(f"{base}/survey", "evaluation survey before sending")
    audit.visit(f"{base}/survey/questions", "survey questions editor")
    audit.visit(f"{base}/survey/pre-test", "sending the pre-test (confirmation)")
    audit.visit(f"{base}/survey/send", "sending the survey (before the meeting has ended)")
    audit.assert_clean()


def test_project_report_pages_pass_axe_and_reflow_at_320_px(audit, page):
    from scheduler.presence.certificates import issue_certificates
    from scheduler.presence.models import Presence
    from scheduler.projects.models import Project

    admin = make.user(is_admin=True)
    admin.organisation.voivodeship = "podkarpackie"
    project = Project(name="Liderzy kooperacji", lead_organisation_id=admin.organisation_id, target_institutions=200,
                      target_participants=400)
    db.session.add(project)
    db.session.commit()
    event = a_meeting(admin, capacity=10)
    registration = a_declaration(event, make.invitations(admin, event, count=1)[0])
    for participant in registration.participants:
        db.session.add(Presence(event_id=event.id, participant_id=participant.id, day=event.starts_at.date(),
                                present=True))
    db.session.commit()
    issue_certificates(admin, event)
    email, project_id = admin.email, project.id
    db.session.commit()  # reading those began a transaction: end it, or the server's login would wait for it

    page.goto(audit.base + "/login")
    page.fill("#email", email)
    page.fill("#password", make.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/organiser/$"))
    audit.visit(f"/organiser/report?project={project_id}", "project report of the organisation")
    audit.visit("/organiser/report?start=10.03.2027", "project report with a wrong date")
    audit.visit(f"/admin/projects/{project_id}/report", "project report for the administrator")
    audit.assert_clean()
