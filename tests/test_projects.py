"""Projects as records: an administrator keeps them; meetings belong to one and carry its identity."""
from __future__ import annotations

from sqlalchemy import select

from scheduler.events.models import Event
from scheduler.extensions import db
from scheduler.projects.models import Project

from . import factories as make


def _admin(client):
    admin = make.user(is_admin=True)
    db.session.commit()
    make.login(client, admin, lang="pl")
    return admin


def _orgs():
    lublin = make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin")
    kielce = make.organisation("Regionalny Ośrodek Polityki Społecznej w Kielcach", "ROPS Kielce")
    return lublin, kielce


def test_an_admin_creates_a_project_with_its_partners_and_edits_it(client):
    admin = _admin(client)
    lublin, kielce = _orgs()
    response = client.post("/admin/projects", data={
        "name": "Liderzy kooperacji", "funding_sentence": "Projekt współfinansowany ze środków EFS.",
        "lead_organisation_id": admin.organisation_id, "partner_ids": [lublin.id, kielce.id],
        "reporting_target": "200 instytucji"})
    assert response.status_code == 303
    project = db.session.execute(select(Project)).scalar_one()
    assert project.lead_organisation_id == admin.organisation_id
    assert {p.short_name for p in project.partners} == {"ROPS Lublin", "ROPS Kielce"}

    assert client.post(f"/admin/projects/{project.id}", data={
        "name": "Liderzy kooperacji", "funding_sentence": "Inne zdanie.", "lead_organisation_id": admin.organisation_id,
        "partner_ids": [lublin.id]}).status_code == 303
    db.session.expire_all()
    assert [p.short_name for p in db.session.get(Project, project.id).partners] == ["ROPS Lublin"]


def test_a_project_without_a_name_or_lead_is_refused_at_its_fields(client):
    _admin(client)
    response = client.post("/admin/projects", data={"name": "", "funding_sentence": "x"})
    assert response.status_code == 422
    assert db.session.execute(select(Project)).first() is None


def test_only_administrators_reach_the_projects(client):
    organiser = make.user()
    db.session.commit()
    make.login(client, organiser)
    assert client.get("/admin/projects").status_code == 403


def test_a_new_meeting_belongs_to_the_project_its_organisation_leads_and_carries_its_funding_sentence(client):
    admin = _admin(client)
    lublin, _kielce = _orgs()
    db.session.add(Project(name="Liderzy kooperacji", lead_organisation_id=admin.organisation_id, partners=[lublin],
                           funding_sentence="Zdanie o współfinansowaniu z Europejskiego Funduszu Społecznego."))
    db.session.commit()
    partner_organiser = make.user(lublin)
    event = make.event(partner_organiser, invite_only=False)
    assert event.project is not None and event.project.name == "Liderzy kooperacji"
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Zdanie o współfinansowaniu z Europejskiego Funduszu Społecznego." in page
    assert "ROPS Lublin" in page


def test_without_any_project_a_meeting_has_none_and_pages_keep_the_default_footer(client):
    event = make.event(make.user(), invite_only=False)
    assert db.session.get(Event, event.id).project_id is None
    assert "Europejskiego Funduszu Społecznego" in client.get(f"/events/{event.id}?lang=pl").get_data(as_text=True)


def test_the_demo_data_has_the_seeds_project_with_five_partners_and_every_meeting_in_it(runner):
    assert runner.invoke(args=["demo-data", "--if-empty"]).exit_code == 0
    project = db.session.execute(select(Project)).scalar_one()
    assert project.lead_organisation.short_name == "ROPS Rzeszów"
    assert len(project.organisation_ids) == 5
    assert db.session.execute(select(Event.project_id).distinct()).scalars().all() == [project.id]


def test_a_meetings_emails_carry_its_projects_funding_sentence(app, smtp_server):
    from scheduler.extensions import mail
    from scheduler.notifications.dispatcher import dispatch_due
    from scheduler.notifications.services import send_invitations

    app.config.update(smtp_server.config())
    mail.init_app(app)
    organiser = make.user()
    db.session.add(Project(name="Liderzy kooperacji", lead_organisation_id=organiser.organisation_id,
                           funding_sentence="Zdanie projektu o Europejskim Funduszu Społecznym 2021–2027."))
    db.session.commit()
    event = make.event(organiser)
    make.invitations(organiser, event, 1)
    send_invitations(organiser, event)
    dispatch_due()
    [message] = smtp_server.messages
    assert "Zdanie projektu o Europejskim Funduszu Społecznym 2021–2027." in \
        message.get_body(preferencelist=("plain",)).get_content()


def test_the_public_feed_can_be_filtered_by_project(client):
    import icalendar

    organiser = make.user()
    lublin = make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin")
    outside = make.user(lublin)
    project = Project(name="Liderzy kooperacji", lead_organisation_id=organiser.organisation_id)
    db.session.add(project)
    db.session.commit()
    inside_event = make.event(organiser, title="Spotkanie projektu")
    make.event(outside, title="Spotkanie spoza projektu")
    feed = client.get(f"/calendar.ics?project={project.id}")
    assert feed.status_code == 200
    titles = [str(c["SUMMARY"]) for c in icalendar.Calendar.from_ical(feed.data).walk("VEVENT")]
    assert titles == [inside_event.title]
    assert "Liderzy kooperacji" in feed.get_data(as_text=True)
    assert client.get("/calendar.ics?project=999999").status_code == 404
    assert client.get("/calendar.ics?project=abc").status_code == 404
    again = client.get(f"/calendar.ics?project={project.id}", headers={"If-None-Match": feed.headers["ETag"]})
    assert again.status_code == 304


def test_a_meeting_shared_with_the_projects_partners_is_theirs_to_see_not_to_change(client, make_app):
    lead_user = make.user()
    lublin = make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin")
    kielce = make.organisation("Regionalny Ośrodek Polityki Społecznej w Kielcach", "ROPS Kielce")
    partner, outsider = make.user(lublin), make.user(kielce)
    db.session.add(Project(name="Liderzy kooperacji", lead_organisation_id=lead_user.organisation_id,
                           partners=[lublin]))
    db.session.commit()
    event = make.event(lead_user, title="Krajowe spotkanie Komitetów Sterujących")
    event_id, partner_email, outsider_email = event.id, partner.email, outsider.email
    db.session.commit()
    make.login(client, lead_user, lang="pl")

    site = make_app()
    partner_client, outsider_client = site.test_client(), site.test_client()
    db.session.rollback()
    partner_client.post("/login", data={"email": partner_email, "password": make.PASSWORD})
    outsider_client.post("/login", data={"email": outsider_email, "password": make.PASSWORD})
    assert partner_client.get(f"/organiser/events/{event_id}").status_code == 403  # not shared yet

    assert client.post(f"/organiser/events/{event_id}/share", data={"shared": "1"}).status_code == 303
    db.session.rollback()
    page = partner_client.get(f"/organiser/events/{event_id}")
    assert page.status_code == 200 and "tylko do odczytu" in page.get_data(as_text=True)
    assert f"/organiser/events/{event_id}/edit" not in page.get_data(as_text=True)
    assert "Krajowe spotkanie Komitetów Sterujących" in partner_client.get("/organiser/").get_data(as_text=True)
    # Seeing is not managing: every changing route stays closed to the partner.
    assert partner_client.get(f"/organiser/events/{event_id}/edit").status_code == 403
    assert partner_client.get(f"/organiser/events/{event_id}/declarations").status_code == 403
    assert partner_client.post(f"/organiser/events/{event_id}/share", data={"shared": "0"}).status_code == 403
    assert outsider_client.get(f"/organiser/events/{event_id}").status_code == 403
    db.session.rollback()
    assert db.session.get(Event, event_id).shared_with_partners


def _png(width=600, height=80, colour="navy") -> bytes:
    import io as _io

    from PIL import Image

    out = _io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def test_the_logo_strip_is_uploaded_checked_reencoded_and_shown_in_the_footer(client):
    import io as _io

    admin = _admin(client)
    project = Project(name="Liderzy kooperacji", lead_organisation_id=admin.organisation_id)
    db.session.add(project)
    db.session.commit()
    form = {"name": "Liderzy kooperacji", "lead_organisation_id": admin.organisation_id, "funding_sentence": "Zdanie."}
    refused = client.post(f"/admin/projects/{project.id}", data={
        **form, "logo_strip": (_io.BytesIO(b"<svg onload='alert(1)'></svg>"), "pasek.svg")},
        content_type="multipart/form-data")
    assert refused.status_code == 422 and "PNG lub JPEG" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(Project, project.id).logo_strip_version

    original = _png() + b"trailing bytes a file may carry"
    saved = client.post(f"/admin/projects/{project.id}", data={
        **form, "logo_strip": (_io.BytesIO(original), "pasek.png")}, content_type="multipart/form-data")
    assert saved.status_code == 303
    db.session.expire_all()
    stored = db.session.get(Project, project.id)
    assert stored.logo_strip.startswith(b"\x89PNG") and b"trailing bytes" not in stored.logo_strip
    event = make.event(admin, invite_only=False)
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f"/admin/projects/{project.id}/logo-strip.png?v={stored.logo_strip_version}" in page
    image = client.get(f"/admin/projects/{project.id}/logo-strip.png")
    assert image.status_code == 200 and image.content_type == "image/png"

    pdf = client.get(f"/organiser/events/{event.id}/attendance-list.pdf").data
    from pypdf import PdfReader
    assert len(PdfReader(_io.BytesIO(pdf)).pages[0].images) == 1  # the strip, embedded

    client.post(f"/admin/projects/{project.id}", data={**form, "remove_logo_strip": "y"})
    db.session.expire_all()
    assert db.session.get(Project, project.id).logo_strip is None


def test_the_demo_project_has_a_labelled_placeholder_strip(runner):
    runner.invoke(args=["demo-data", "--if-empty"])
    project = db.session.execute(select(Project)).scalar_one()
    assert project.logo_strip.startswith(b"\x89PNG") and project.logo_strip_version
