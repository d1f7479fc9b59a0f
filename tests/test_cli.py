"""Command-line set-up: organiser accounts and the demo meetings from the seed letters."""
from sqlalchemy import func, select

from scheduler.auth.models import User
from scheduler.auth.services import authenticate
from scheduler.events.models import Event
from scheduler.extensions import db

from . import factories as make


def test_create_user_reads_the_password_from_standard_input(runner):
    make.organisation()
    result = runner.invoke(args=["create-user", "anna@rops.rzeszow.pl", "--organisation", "ROPS Rzeszów",
                                 "--password-stdin"], input="bardzo-tajne-haslo\n")
    assert result.exit_code == 0, result.output
    user = authenticate("anna@rops.rzeszow.pl", "bardzo-tajne-haslo")
    assert user is not None and not user.is_admin
    assert user.password_hash != "bardzo-tajne-haslo"


def test_create_user_asks_for_the_password_and_makes_an_admin(runner):
    make.organisation()
    result = runner.invoke(args=["create-user", "lider@rops.rzeszow.pl", "--organisation", "rops-rzeszow", "--admin"],
                           input="bardzo-tajne-haslo\nbardzo-tajne-haslo\n")
    assert result.exit_code == 0, result.output
    assert authenticate("lider@rops.rzeszow.pl", "bardzo-tajne-haslo").is_admin


def test_create_user_explains_what_is_wrong(runner):
    make.organisation()
    unknown = runner.invoke(args=["create-user", "a@example.org", "--organisation", "ROPS Gdańsk", "--password-stdin"],
                            input="bardzo-tajne-haslo\n")
    assert unknown.exit_code != 0 and "ROPS Gdańsk" in unknown.output
    short = runner.invoke(args=["create-user", "a@example.org", "--organisation", "ROPS Rzeszów", "--password-stdin"],
                          input="krotkie\n")
    assert short.exit_code != 0 and "password" in short.output
    assert db.session.execute(select(func.count(User.id))).scalar_one() == 0


def test_demo_data_loads_the_seed_meetings_once(runner):
    first = runner.invoke(args=["demo-data", "--if-empty"])
    assert first.exit_code == 0, first.output
    titles = db.session.execute(select(Event.title, Event.reference)).all()
    assert ("Spotkanie informacyjne dla PCPR: testowanie Modelu Kooperacji", "PF.0702.10.2019.LK") in titles
    assert len(titles) == 8
    again = runner.invoke(args=["demo-data", "--if-empty"])
    assert again.exit_code == 0
    assert db.session.execute(select(func.count(Event.id))).scalar_one() == 8
    assert runner.invoke(args=["demo-data"]).exit_code != 0


def test_the_demo_login_printed_by_make_run_works(runner, client):
    runner.invoke(args=["demo-data", "--if-empty"])
    response = client.post("/login", data={"email": "organizator@rops.rzeszow.local", "password": "demo-haslo-2019"})
    assert response.status_code == 302
    assert client.get("/organiser/").status_code == 200


def test_the_demo_shows_a_past_training_from_declarations_to_filed_documents(runner, client):
    from scheduler.presence.models import Certificate, Presence
    from scheduler.surveys.models import SurveyResponse

    runner.invoke(args=["demo-data", "--if-empty"])
    training = db.session.execute(select(Event).where(Event.title.like("Makroregionalna Szkoła Kooperacji – szkolenie%"))
                                  ).scalar_one()
    presence = db.session.execute(select(Presence.present).where(Presence.event_id == training.id)).scalars().all()
    assert sorted(presence) == [False, True, True, True, True]
    codes = [c.code for c in db.session.execute(select(Certificate).where(Certificate.event_id == training.id)
                                                .order_by(Certificate.number)).scalars()]
    assert codes == ["ZS/2019/0001", "ZS/2019/0002", "ZS/2019/0003", "ZS/2019/0004"]
    assert db.session.execute(select(func.count(SurveyResponse.id))).scalar_one() == 4
    client.post("/login", data={"email": "organizator@rops.rzeszow.local", "password": "demo-haslo-2019"})
    survey = client.get(f"/organiser/events/{training.id}/survey?lang=pl").get_data(as_text=True)
    assert "4 odpowiedzi" in survey and "data:image/svg+xml" in survey
    assert client.get(f"/organiser/events/{training.id}/certificates.pdf").status_code == 200
