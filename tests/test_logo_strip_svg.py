"""The EU logo strip uploaded as SVG: sanitised to plain drawing, drawn as PNG for e-mails, served with a strict
policy, used in PDFs; anything that runs, loads or links out is removed or the file refused."""
from __future__ import annotations

import base64
import io
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from PIL import Image

from scheduler.errors import ValidationFailed
from scheduler.extensions import db
from scheduler.projects.models import Project
from scheduler.projects.services import logo_strip_data_uri, set_logo_strip
from scheduler.projects.svg import PNG_HEIGHT, clean_svg_strip, looks_like_svg

from . import factories as make

SVG = "http://www.w3.org/2000/svg"

GOOD = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="600" height="80">
  <title>Fundusze Europejskie</title>
  <defs><linearGradient id="blue"><stop offset="0" stop-color="#003399"/><stop offset="1" stop-color="#0055cc"/>
  </linearGradient></defs>
  <rect id="flag" x="0" y="0" width="120" height="80" fill="url(#blue)"/>
  <circle cx="60" cy="40" r="25" fill="none" stroke="#ffcc00" stroke-width="4"/>
  <path d="M200 10 L260 70 L140 70 Z" fill="#d4213d"/>
  <use xlink:href="#flag" x="480"/>
  <text x="300" y="50" font-family="DejaVu Sans" font-size="24">Unia <tspan font-weight="bold">Europejska</tspan></text>
</svg>"""


def _names(svg: str) -> list[str]:
    return [element.tag.split("}")[-1] for element in ET.fromstring(svg).iter()]


def _attributes(svg: str) -> dict[str, str]:
    return {key: value for element in ET.fromstring(svg).iter() for key, value in element.attrib.items()}


def test_a_good_svg_keeps_its_shapes_text_and_local_references(app):
    clean = clean_svg_strip(GOOD)
    assert _names(clean) == ["svg", "title", "defs", "linearGradient", "stop", "stop", "rect", "circle", "path",
                             "use", "text", "tspan"]
    root = ET.fromstring(clean)
    assert root.tag == f"{{{SVG}}}svg" and root.get("viewBox") == "0 0 600 80"  # made from width and height
    assert root.find(f"{{{SVG}}}rect").get("fill") == "url(#blue)"
    assert root.find(f"{{{SVG}}}use").get("{http://www.w3.org/1999/xlink}href") == "#flag"
    assert "".join(root.find(f"{{{SVG}}}text").itertext()) == "Unia Europejska"


@pytest.mark.parametrize("attack, gone", [
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><script>alert(1)</script>'
     b'<rect width="5" height="5"/></svg>', "script"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)">'
     b'<rect width="5" height="5" onclick="alert(2)"/></svg>', "alert"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><foreignObject><body xmlns='
     b'"http://www.w3.org/1999/xhtml"><iframe src="https://evil.example/"/></body></foreignObject>'
     b'<rect width="5" height="5"/></svg>', "evil"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10">'
     b'<a xlink:href="javascript:alert(1)"><rect width="5" height="5"/></a></svg>', "javascript"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><image href="https://evil.example/x.png" '
     b'width="5" height="5"/><use href="https://evil.example/s.svg#a"/><rect width="5" height="5"/></svg>', "evil"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="5" height="5" '
     b'style="fill:url(http://evil.example/a);stroke:red" fill="url(\'https://evil.example/b\')"/></svg>', "evil"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><style>@import url(https://evil.example/);'
     b'</style><rect width="5" height="5"/><animate attributeName="href" to="javascript:alert(1)"/>'
     b'<set attributeName="onmouseover" to="alert(1)"/></svg>', "evil"),
])
def test_what_runs_loads_or_links_out_is_removed(app, attack, gone):
    clean = clean_svg_strip(attack)
    assert 'xmlns="http://www.w3.org/2000/svg"' in clean
    clean = clean.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert gone not in clean and "script" not in clean and "foreignObject" not in clean and "http:" not in clean
    assert not [key for key in _attributes(clean) if key.lower().startswith("on")]
    assert "<rect " in clean


@pytest.mark.parametrize("attack", [
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><text y="5">&xxe;</text></svg>',
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><text y="5">&d;</text></svg>',
    b'<!DOCTYPE svg SYSTEM "https://evil.example/svg.dtd"><svg xmlns="http://www.w3.org/2000/svg" '
    b'viewBox="0 0 10 10"><rect width="5" height="5"/></svg>',
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="5"',  # not well-formed
    b'<?xml version="1.0"?><html><body/></html>',  # XML, not SVG
])
def test_dtds_entities_and_broken_files_are_refused(app, attack):
    assert looks_like_svg(attack)
    with pytest.raises(ValidationFailed) as refused:
        clean_svg_strip(attack)
    assert "Nie udało się odczytać" in str(refused.value.fields["logo_strip"])


def test_a_plain_public_doctype_as_graphics_programs_write_it_is_accepted(app):
    illustrator = GOOD.replace(b"<svg ", b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
                                        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg ', 1)
    assert "path" in _names(clean_svg_strip(illustrator))


def test_nested_uses_cannot_multiply_the_drawing(app):
    laughs = ['<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
              'viewBox="0 0 10 10"><rect id="l0" width="1" height="1"/>']
    for level in range(1, 12):
        laughs.append(f'<g id="l{level}">' + f'<use xlink:href="#l{level - 1}"/>' * 10 + "</g>")
    clean = clean_svg_strip(("".join(laughs) + "</svg>").encode())
    assert _names(clean).count("use") == 10  # only the uses of the plain rectangle stay


# The messages as the service shows them by default: in Polish.
@pytest.mark.parametrize("svg, message", [
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><script>alert(1)</script></svg>', "nic by nie zostało"),
    (b"<svg onload='alert(1)'></svg>", "nic by nie zostało"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5"/></svg>', "musi określać swój rozmiar"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" width="100%"><rect width="5" height="5"/></svg>', "musi określać swój rozmiar"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 10"><rect width="5" height="5"/></svg>',
     "razy szerszy"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">' + b"<g>" * 60 + b"</g>" * 60 + b"</svg>",
     "zbyt złożony"),
])
def test_empty_sizeless_or_too_complex_svgs_are_refused(app, svg, message):
    with pytest.raises(ValidationFailed) as refused:
        clean_svg_strip(svg)
    assert message in str(refused.value.fields["logo_strip"])


def _admin(client):
    admin = make.user(is_admin=True)
    db.session.commit()
    make.login(client, admin, lang="en")
    return admin


def _project(admin) -> Project:
    project = Project(name="Liderzy kooperacji", lead_organisation_id=admin.organisation_id)
    db.session.add(project)
    db.session.commit()
    return project


def test_an_svg_upload_stores_the_clean_drawing_and_a_png_and_is_served_strictly(client):
    admin = _admin(client)
    project = _project(admin)
    form = {"name": "Liderzy kooperacji", "lead_organisation_id": admin.organisation_id,
            "funding_sentence": "Zdanie o finansowaniu."}
    attack = GOOD.replace(b"<title>", b"<script>alert(1)</script><title>")
    saved = client.post(f"/admin/projects/{project.id}", data={**form, "logo_strip": (io.BytesIO(attack), "pasek.svg")},
                        content_type="multipart/form-data")
    assert saved.status_code == 303
    db.session.expire_all()
    stored = db.session.get(Project, project.id)
    assert stored.logo_strip_svg == clean_svg_strip(GOOD) and "script" not in stored.logo_strip_svg
    with Image.open(io.BytesIO(stored.logo_strip)) as png:
        assert png.format == "PNG" and png.size == (PNG_HEIGHT * 600 // 80, PNG_HEIGHT)
        assert png.convert("RGB").getpixel((10, 10)) != (255, 255, 255)  # the flag is drawn
    assert len(stored.logo_strip_version) == 16

    page = client.get(f"/admin/projects/{project.id}").get_data(as_text=True)
    assert f"/admin/projects/{project.id}/logo-strip.svg?v={stored.logo_strip_version}" in page
    event = make.event(admin, invite_only=False)
    event.project = stored
    db.session.commit()
    footer = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f"/admin/projects/{project.id}/logo-strip.svg?v={stored.logo_strip_version}" in footer
    served = client.get(f"/admin/projects/{project.id}/logo-strip.svg?v={stored.logo_strip_version}")
    assert served.status_code == 200 and served.mimetype == "image/svg+xml"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "public" in served.headers["Cache-Control"]
    assert served.get_data(as_text=True) == stored.logo_strip_svg
    client.get("/logout")
    assert client.get(f"/admin/projects/{project.id}/logo-strip.svg").status_code == 200  # public, like the PNG
    assert client.get(f"/admin/projects/{project.id}/logo-strip.png").mimetype == "image/png"

    png_upload = io.BytesIO()
    Image.new("RGB", (300, 40), "navy").save(png_upload, "PNG")
    set_logo_strip(admin, stored, png_upload.getvalue())
    assert stored.logo_strip_svg is None  # a PNG replaces the SVG too
    assert client.get(f"/admin/projects/{project.id}/logo-strip.svg").status_code == 404
    footer = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f"/admin/projects/{project.id}/logo-strip.png?v={stored.logo_strip_version}" in footer


def test_a_bad_svg_is_refused_with_the_reason_and_the_form_kept(client):
    admin = _admin(client)
    project = _project(admin)
    set_logo_strip(admin, project, GOOD)
    version = project.logo_strip_version
    refused = client.post(f"/admin/projects/{project.id}", data={
        "name": "Liderzy kooperacji", "lead_organisation_id": admin.organisation_id,
        "funding_sentence": "Nowe zdanie, którego nie wolno zgubić.",
        "logo_strip": (io.BytesIO(b'<!DOCTYPE svg [<!ENTITY x "y">]><svg/>'), "pasek.svg")},
        content_type="multipart/form-data")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "This SVG file could not be read" in page  # the admin reads English
    assert "Nowe zdanie, którego nie wolno zgubić." in page
    db.session.expire_all()
    kept = db.session.get(Project, project.id)
    assert kept.logo_strip_version == version and kept.logo_strip_svg == clean_svg_strip(GOOD)
    # Nothing of the refused form was saved: the page shows the new sentence, the project keeps its own.
    assert kept.funding_sentence != "Nowe zdanie, którego nie wolno zgubić."


def test_removing_the_strip_clears_the_svg_and_the_png(client):
    admin = _admin(client)
    project = _project(admin)
    set_logo_strip(admin, project, GOOD)
    client.post(f"/admin/projects/{project.id}", data={
        "name": "Liderzy kooperacji", "lead_organisation_id": admin.organisation_id, "remove_logo_strip": "y"})
    db.session.expire_all()
    removed = db.session.get(Project, project.id)
    assert removed.logo_strip is None and removed.logo_strip_svg is None and removed.logo_strip_version == ""
    assert logo_strip_data_uri(removed) is None


def _strip_colours(client, event_id: int, folder) -> tuple[bool, bool]:
    """Whether the top of the attendance list's first page shows the strip's red and its blue."""
    pdf = client.get(f"/organiser/events/{event_id}/attendance-list.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    (folder / "list.pdf").write_bytes(pdf.data)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", str(folder / "list.pdf"),
                    str(folder / "page")], check=True)
    with Image.open(folder / "page.png") as page:
        rgb = page.convert("RGB")
        top = rgb.crop((0, 0, rgb.width, rgb.height // 6))
        colours = {top.getpixel((x, y)) for x in range(top.width) for y in range(top.height)}
    return (any(r > 150 and g < 90 and b < 100 for r, g, b in colours),
            any(b > 120 and r < 60 for r, g, b in colours))


def test_pdfs_embed_the_svg_strip_and_draw_it(client, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils, `make browser`) draws the PDF to check the strip")
    admin = _admin(client)
    project = _project(admin)
    event = make.event(admin, invite_only=False)
    event.project = project
    db.session.commit()
    assert _strip_colours(client, event.id, tmp_path) == (False, False)  # without a strip: no such colours

    set_logo_strip(admin, project, GOOD)
    uri = logo_strip_data_uri(project)
    assert uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(uri.partition(",")[2]).decode() == project.logo_strip_svg
    assert _strip_colours(client, event.id, tmp_path) == (True, True)  # the red triangle and the blue flag


def test_the_projects_table_matches_its_model(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, db.metadata)
    def table(diff):
        diff = diff[0] if isinstance(diff, list) else diff
        return next((getattr(part, "name", None) for part in diff[1:] if hasattr(part, "columns")), None) or \
            next((part for part in diff[1:] if isinstance(part, str)), None)
    assert [diff for diff in diffs if table(diff) == "projects"] == []
