"""Projects: created and edited by administrators; a meeting belongs to one of its organisation's projects."""
from __future__ import annotations

import base64
import hashlib
import io

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, or_, select

from ..auth.models import Organisation, User
from ..errors import Forbidden, ValidationFailed
from ..extensions import db
from ..validation import clean_text
from .models import Project, project_partners
from .svg import clean_svg_strip, looks_like_svg, svg_strip_png


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden()


def save_project(user: User, values: dict, project: Project | None = None, *, commit: bool = True) -> Project:
    """Create (project None) or edit a project; ValidationFailed with a message per field. commit=False: the
    caller commits (with the logo strip of the same form, so a refused strip saves nothing)."""
    _require_admin(user)
    errors: dict = {}
    name = clean_text(values.get("name"), max_length=200, required=True, field="name", errors=errors)
    sentence = clean_text(values.get("funding_sentence"), max_length=2000, multiline=True,
                          field="funding_sentence", errors=errors)
    target = clean_text(values.get("reporting_target"), max_length=2000, multiline=True,
                        field="reporting_target", errors=errors)
    letterhead = clean_text(values.get("letterhead"), max_length=500, multiline=True, field="letterhead",
                            errors=errors)
    targets = {name: _target(values.get(name), name, errors) for name in ("target_institutions", "target_participants")}
    lead = db.session.get(Organisation, values.get("lead_organisation_id") or 0)
    if lead is None:
        errors["lead_organisation_id"] = _l("Choose the lead organisation.")
    partner_ids = {int(i) for i in values.get("partner_ids") or []} - ({lead.id} if lead else set())
    partners = list(db.session.execute(select(Organisation).where(Organisation.id.in_(partner_ids))).scalars())
    if len(partners) != len(partner_ids):
        errors["partner_ids"] = _l("No such organisation.")
    if "name" not in errors:
        taken = select(Project.id).where(func.lower(Project.name) == name.lower())
        if project is not None:
            taken = taken.where(Project.id != project.id)
        if db.session.execute(taken).first():
            errors["name"] = _l("A project with this name already exists.")
    if errors:
        raise ValidationFailed(fields=errors)
    project = project or Project()
    project.name, project.funding_sentence, project.reporting_target = name, sentence, target
    project.letterhead = letterhead
    project.lead_organisation, project.partners = lead, partners
    project.target_institutions, project.target_participants = targets["target_institutions"], \
        targets["target_participants"]
    db.session.add(project)
    if commit:
        db.session.commit()
    return project


MAX_TARGET = 1_000_000


def _target(value, field: str, errors: dict) -> int | None:
    """A report's target: a whole number from 1 up, or None when left empty."""
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_TARGET:
        errors[field] = _l("Enter a whole number from 1 to %(max)d, or leave the field empty.", max=MAX_TARGET)
        return None
    return number


def projects_of(organisation_id: int) -> list[Project]:
    """The active projects the organisation leads or is a partner of, by name."""
    member = select(project_partners.c.project_id).where(project_partners.c.organisation_id == organisation_id)
    return list(db.session.execute(select(Project).where(
        Project.is_active.is_(True),
        or_(Project.lead_organisation_id == organisation_id, Project.id.in_(member))).order_by(Project.name)
    ).scalars())


def default_project(organisation_id: int) -> Project | None:
    """The project a new meeting of the organisation belongs to: the one it leads, else the first it is part of."""
    found = projects_of(organisation_id)
    led = [p for p in found if p.lead_organisation_id == organisation_id]
    return (led or found or [None])[0]


def footer_project(event=None, user=None) -> Project | None:
    """Whose identity a page carries: the meeting's project, else the user's organisation's, else the only one."""
    if event is not None and getattr(event, "project", None) is not None:
        return event.project
    if user is not None and getattr(user, "is_authenticated", False):
        project = default_project(user.organisation_id)
        if project is not None:
            return project
    active = list(db.session.execute(select(Project).where(Project.is_active.is_(True)).limit(2)).scalars())
    return active[0] if len(active) == 1 else None


def letterhead_lines(event) -> list[str]:
    """The letterhead of a meeting's documents: its project's, else the organisation's name and address."""
    project = event.project
    if project is not None and project.letterhead.strip():
        return [line.strip() for line in project.letterhead.splitlines() if line.strip()]
    organisation = event.organisation
    return [line for line in (organisation.name, organisation.address or "") if line]


def funding_sentence(event) -> str:
    """The sentence the funding rules require on a meeting's pages, e-mails and documents: its project's, else the
    service's default."""
    project = getattr(event, "project", None)
    return project.funding_sentence if project is not None and project.funding_sentence \
        else current_app.config["FUNDING_FOOTER"]


MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_LOGO_PIXELS = (8000, 3000)


def clean_logo_strip(data: bytes) -> bytes:
    """The uploaded strip as a fresh PNG: only PNG and JPEG images are read (by Pillow, which checks them), and
    re-encoding keeps the pixels and drops everything else a file may carry (metadata, trailing data)."""
    _check_size(data)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            if kind not in ("PNG", "JPEG") or image.width > MAX_LOGO_PIXELS[0] or image.height > MAX_LOGO_PIXELS[1]:
                raise ValueError(kind)
            out = io.BytesIO()
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "PNG", optimize=True)
    except (UnidentifiedImageError, ValueError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationFailed(fields={"logo_strip": _l(
            "Upload the logo strip as a PNG or JPEG image (at most 8000 × 3000 pixels) or as an SVG file.")}) from exc
    return out.getvalue()


def _check_size(data: bytes) -> None:
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationFailed(fields={"logo_strip": _l("The image may have at most %(mb)d MB.",
                                                        mb=MAX_LOGO_BYTES // (1024 * 1024))})


def set_logo_strip(user: User, project: Project, data: bytes | None, *, commit: bool = True) -> Project:
    """Store (or with None remove) the project's logo strip: an SVG is kept sanitised, next to the PNG drawn from it
    (e-mails and older readers take the PNG); a PNG or JPEG is re-encoded and any earlier SVG dropped."""
    _require_admin(user)
    if data is None:
        project.logo_strip, project.logo_strip_svg = None, None
    elif looks_like_svg(data):
        _check_size(data)
        project.logo_strip_svg = clean_svg_strip(data)
        project.logo_strip = svg_strip_png(project.logo_strip_svg)
    else:
        project.logo_strip, project.logo_strip_svg = clean_logo_strip(data), None
    digest = hashlib.sha256((project.logo_strip_svg or "").encode("utf-8") + (project.logo_strip or b""))
    project.logo_strip_version = digest.hexdigest()[:16] if project.logo_strip else ""
    if commit:
        db.session.commit()
    return project


def logo_strip_url(project: Project | None) -> str | None:
    """The strip's address for a page (the SVG when there is one, sharp at any size; else the PNG), or None.
    The version in the query string lets browsers keep it until it is replaced."""
    if project is None or not project.logo_strip_version:
        return None
    endpoint = "projects.logo_strip_svg" if project.logo_strip_is_svg else "projects.logo_strip"
    return url_for(endpoint, project_id=project.id, v=project.logo_strip_version)


def logo_strip_data_uri(project: Project | None) -> str | None:
    """The strip for a PDF (WeasyPrint embeds it from the data URI; an SVG stays sharp at any size), or None."""
    if project is None or not project.logo_strip_version:
        return None
    if project.logo_strip_is_svg:
        return "data:image/svg+xml;base64," + base64.b64encode(project.logo_strip_svg.encode("utf-8")).decode("ascii")
    return "data:image/png;base64," + base64.b64encode(project.logo_strip).decode("ascii")
