"""Going live without SQL: organisations from the command line and the admin pages, demo data kept off real data."""
from __future__ import annotations

from sqlalchemy import func, select

from scheduler.auth.models import ApiToken, Organisation, User
from scheduler.auth.services import issue_api_token
from scheduler.events.models import Event
from scheduler.extensions import db

from . import factories as make


def _count(model) -> int:
    return db.session.execute(select(func.count(model.id))).scalar_one()


# --- first start from the command line ------------------------------------------------------------

def test_a_fresh_install_goes_live_with_two_commands(runner, client):
    first_visit = client.get("/organiser/", follow_redirects=True)
    page = first_visit.get_data(as_text=True)
    assert "create-organisation" in page and "create-user" in page  # the login page explains the first steps

    created = runner.invoke(args=["create-organisation", "Regionalny Ośrodek Polityki Społecznej w Lublinie",
                                  "--short-name", "ROPS Lublin", "--address", "ul. Diamentowa 2, 20-447 Lublin"])
    assert created.exit_code == 0, created.output
    organisation = db.session.execute(select(Organisation)).scalar_one()
    assert (organisation.short_name, organisation.address, organisation.is_active) == (
        "ROPS Lublin", "ul. Diamentowa 2, 20-447 Lublin", True)

    user = runner.invoke(args=["create-user", "lider@rops.lublin.pl", "--organisation", "ROPS Lublin", "--admin",
                               "--password-stdin"], input="bardzo-tajne-haslo\n")
    assert user.exit_code == 0, user.output
    db.session.rollback()
    assert client.post("/login", data={"email": "lider@rops.lublin.pl", "password": "bardzo-tajne-haslo"}
                       ).status_code == 302
    assert client.get("/organiser/").status_code == 200
    assert "create-organisation" not in client.get("/login").get_data(as_text=True)


def test_create_organisation_refuses_a_taken_or_empty_name(runner):
    make.organisation()
    taken = runner.invoke(args=["create-organisation", "regionalny ośrodek polityki społecznej w rzeszowie"])
    assert taken.exit_code != 0 and "istnieje" in taken.output
    empty = runner.invoke(args=["create-organisation", "   "])
    assert empty.exit_code != 0
    assert _count(Organisation) == 1


def test_two_organisations_with_the_same_short_name_get_distinct_slugs(runner):
    assert runner.invoke(args=["create-organisation", "Ośrodek A", "--short-name", "ROPS"]).exit_code == 0
    assert runner.invoke(args=["create-organisation", "Ośrodek B", "--short-name", "ROPS"]).exit_code == 0
    slugs = db.session.execute(select(Organisation.slug).order_by(Organisation.id)).scalars().all()
    assert slugs == ["rops", "rops-2"]


# --- demo data stays off real data ----------------------------------------------------------------

def test_demo_data_if_empty_leaves_a_database_with_an_organisation_alone(runner):
    make.organisation("Mazowieckie Centrum Polityki Społecznej", "MCPS")
    result = runner.invoke(args=["demo-data", "--if-empty"])
    assert result.exit_code == 0
    assert _count(Organisation) == 1 and _count(User) == 0 and _count(Event) == 0
    assert db.session.execute(select(User).where(User.email.like("%.local"))).first() is None


def test_demo_data_is_never_loaded_in_production(make_app, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    app = make_app(SECRET_KEY="a-real-secret-for-this-test", RATELIMIT_STORAGE_URI="memory://")
    result = app.test_cli_runner().invoke(args=["demo-data", "--if-empty"])
    assert result.exit_code != 0 and "production" in result.output
    with app.app_context():
        assert _count(User) == 0 and _count(Organisation) == 0


# --- the admin pages --------------------------------------------------------------------------------

def _admin(client):
    admin = make.user(is_admin=True)
    db.session.commit()
    make.login(client, admin, lang="pl")
    return admin


def test_an_admin_creates_and_renames_an_organisation_on_the_page(client):
    _admin(client)
    page = client.get("/admin/organisations")
    assert page.status_code == 200 and "ROPS Rzeszów" in page.get_data(as_text=True)

    created = client.post("/admin/organisations", data={
        "name": "Regionalny Ośrodek Polityki Społecznej w Kielcach", "short_name": "ROPS Kielce", "address": ""})
    assert created.status_code == 303
    kielce = db.session.execute(select(Organisation).where(Organisation.short_name == "ROPS Kielce")).scalar_one()

    renamed = client.post(f"/admin/organisations/{kielce.id}", data={
        "name": "Regionalny Ośrodek Polityki Społecznej w Kielcach (Świętokrzyskie)", "short_name": "ROPS Kielce",
        "address": "ul. Witosa 86, 25-561 Kielce"})
    assert renamed.status_code == 302
    db.session.refresh(kielce)
    assert kielce.name.endswith("(Świętokrzyskie)") and kielce.slug == "rops-kielce"


def test_a_taken_name_is_reported_at_the_field_and_nothing_is_saved(client):
    _admin(client)
    response = client.post("/admin/organisations", data={
        "name": "Regionalny Ośrodek Polityki Społecznej w Rzeszowie", "short_name": "inna", "address": ""})
    assert response.status_code == 422
    assert "już istnieje" in response.get_data(as_text=True)
    assert _count(Organisation) == 1


def test_deactivating_an_organisation_locks_its_organisers_out_at_once_and_keeps_its_meetings(client, make_app):
    _admin(client)
    lublin = make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin")
    organiser = make.user(lublin)
    make.event(organiser)
    token, _record = issue_api_token(organiser)
    lublin_id, email = lublin.id, organiser.email
    # SQLite: the test's own transaction would hold the write lock the other "process" needs.
    db.session.rollback()
    site = make_app()  # another process: the organiser's requests do not share the admin's app context
    colleague = site.test_client()
    colleague.post("/login", data={"email": email, "password": make.PASSWORD})
    assert colleague.get("/organiser/").status_code == 200

    confirm_page = client.get(f"/admin/organisations/{lublin_id}/deactivate").get_data(as_text=True)
    assert "Lublinie" in confirm_page and "1 organizator" in confirm_page
    assert client.post(f"/admin/organisations/{lublin_id}/deactivate").status_code == 200  # no confirm: nothing
    assert db.session.get(Organisation, lublin_id).is_active
    db.session.rollback()

    assert client.post(f"/admin/organisations/{lublin_id}/deactivate", data={"confirm": "1"}).status_code == 302
    db.session.rollback()
    assert colleague.get("/organiser/").status_code == 302  # the open session ends
    assert site.test_client().get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert site.test_client().post("/login", data={"email": email, "password": make.PASSWORD}).status_code != 302
    assert not db.session.get(Organisation, lublin_id).is_active
    assert db.session.execute(select(func.count(Event.id)).where(Event.organisation_id == lublin_id)
                              ).scalar_one() == 1
    assert db.session.execute(select(ApiToken.revoked_at)).scalar_one() is not None
    db.session.rollback()

    assert client.post(f"/admin/organisations/{lublin_id}/reactivate").status_code == 302
    db.session.rollback()
    assert site.test_client().post("/login", data={"email": email, "password": make.PASSWORD}).status_code == 302


def test_an_admin_cannot_deactivate_their_own_organisation(client):
    admin = _admin(client)
    response = client.post(f"/admin/organisations/{admin.organisation_id}/deactivate", data={"confirm": "1"})
    assert response.status_code == 409
    db.session.refresh(admin.organisation)
    assert admin.organisation.is_active


def test_organisers_who_are_not_admins_do_not_reach_the_admin_pages(client):
    organiser = make.user()
    db.session.commit()
    make.login(client, organiser)
    assert client.get("/admin/organisations").status_code == 403
    assert client.post("/admin/organisations", data={"name": "Nowa"}).status_code == 403
    assert _count(Organisation) == 1
