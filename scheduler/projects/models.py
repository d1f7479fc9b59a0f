from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, String, Table, Text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from ..auth.models import Organisation
from ..database import UTCDateTime, utcnow
from ..extensions import db

project_partners = Table(
    "project_partners", db.metadata,
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
)


class Project(db.Model):
    """An EU-funded project ("Liderzy kooperacji"): its identity on pages, e-mails and documents, and who runs it."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The sentence the funding rules require on everything the project publishes.
    funding_sentence: Mapped[str] = mapped_column(Text, default="", server_default="")
    lead_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # What the project must report, e.g. "200 institutions in 4 regions trained by 2027".
    reporting_target: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The letterhead of the project's documents (letters, certificates), one line per line; empty: each
    # organisation's own name and address.
    letterhead: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The numbers the project report measures progress against; None: no target set.
    target_institutions: Mapped[int | None] = mapped_column(Integer)
    target_participants: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    # The EU logo strip the managing authority hands the project, re-encoded as PNG when uploaded (see services).
    logo_strip: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_strip_version: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # The same strip as sanitised SVG when it was uploaded as SVG (pages and PDFs use it; e-mails take the PNG).
    logo_strip_svg: Mapped[str | None] = mapped_column(Text, deferred=True)
    # Whether there is one, loaded with the row (a boolean, not the drawing): footers pick the SVG or the PNG by it.
    logo_strip_is_svg: Mapped[bool] = column_property(logo_strip_svg.is_not(None))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lead_organisation: Mapped[Organisation] = relationship()
    partners: Mapped[list[Organisation]] = relationship(secondary=project_partners, order_by=Organisation.name)

    def __str__(self) -> str:
        return self.name

    @property
    def organisation_ids(self) -> set[int]:
        return {self.lead_organisation_id, *(partner.id for partner in self.partners)}
