"""The project report's pages: the organiser's (their organisation's meetings) and the administrator's (a whole
project, every organisation), each with its chart and its XLSX and CSV downloads."""
from __future__ import annotations

import base64

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..extensions import db
from ..projects.models import Project
from ..projects.services import projects_of
from ..spreadsheets import download, polish_csv, xlsx
from .forms import ReportFilterForm
from .services import Report, Scope, build_report, report_tables

bp = Blueprint("reports", __name__)

# A CSV file holds one table: which one the link asks for, and the (Polish) name its file is saved under.
CSV_TABLES = {"meetings": "spotkania", "categories": "kategorie", "voivodeships": "wojewodztwa"}


def _chart(groups) -> str | None:
    """Institutions reached per group as a bar chart, an SVG data URI drawn on the server (an <img>: no script)."""
    shown = [group for group in groups if group.numbers.institutions]
    if not shown:
        return None
    import pygal  # imported when a report is drawn, not at every process start
    from pygal.style import Style

    style = Style(background="white", plot_background="white", colors=("#1d4f91",), font_family="sans-serif",
                  label_font_size=14, major_label_font_size=14, value_font_size=14, foreground="#1b1b1b",
                  foreground_strong="#1b1b1b", foreground_subtle="#555555")
    chart = pygal.HorizontalBar(style=style, show_legend=False, width=720, height=70 + 40 * len(shown),
                                print_values=True, js=[], disable_xml_declaration=True, margin=10)
    chart.x_labels = [group.label for group in shown]
    values = [group.numbers.institutions for group in shown]
    step = max(1, -(-max(values) // 10))  # whole institutions on the axis, at most about ten marks
    chart.y_labels = list(range(0, max(values) + step, step))
    chart.add("", values)
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _organiser_report():
    """The organiser's report and filter form: only their organisation's meetings, of one of its projects or all."""
    projects = projects_of(current_user.organisation_id)
    form = ReportFilterForm(formdata=request.args).with_projects(projects, everything_label=_("All meetings"))
    project_id, start, end = form.read()
    project = next((p for p in projects if str(p.id) == project_id), None)
    scope = Scope({current_user.organisation_id}, project, start, end)
    return build_report(scope, none_label=_("Not given")), form


def _project_report(project_id: int):
    """A project's report for an administrator: every organisation's meetings of the project."""
    if not current_user.is_admin:
        abort(403)
    project = db.session.get(Project, project_id) or abort(404)
    form = ReportFilterForm(formdata=request.args).with_projects([project])
    form.project.data = str(project.id)
    _chosen, start, end = form.read()
    return build_report(Scope(None, project, start, end), none_label=_("Not given")), form


def _filter_args(*names: str) -> dict:
    return {name: request.args[name] for name in names if request.args.get(name)}


def _page(report: Report, form: ReportFilterForm, *, admin_project: Project | None):
    if admin_project is not None:
        export_endpoint, export_args = "reports.project_export", {"project_id": admin_project.id,
                                                                  **_filter_args("start", "end")}
    else:
        export_endpoint, export_args = "reports.organiser_export", _filter_args("project", "start", "end")
    status = 422 if any(field.errors for field in form) else 200
    return render_template("reports/report.html", report=report, form=form, admin_project=admin_project,
                           voivodeship_chart=_chart(report.voivodeships), category_chart=_chart(report.categories),
                           export_endpoint=export_endpoint, export_args=export_args, csv_tables=CSV_TABLES), status


def _export(report: Report, form: ReportFilterForm, kind: str, stem: str, again: str):
    if any(field.errors for field in form):
        return redirect(again, 303)  # the page says what is wrong with the filters
    sheets = report_tables(report)
    if kind == "xlsx":
        return download(xlsx(sheets), f"{stem}.xlsx")
    table = request.args.get("table", "meetings")
    if table not in CSV_TABLES:
        abort(404)
    _title, header, rows = sheets[list(CSV_TABLES).index(table)]
    return download(polish_csv(header, rows), f"{stem}-{CSV_TABLES[table]}.csv")


@bp.get("/organiser/report")
@login_required
def organiser():
    report, form = _organiser_report()
    return _page(report, form, admin_project=None)


@bp.get("/organiser/report.<any(xlsx, csv):kind>")
@login_required
def organiser_export(kind: str):
    report, form = _organiser_report()
    again = url_for("reports.organiser", **_filter_args("project", "start", "end"))
    return _export(report, form, kind, "raport", again)


@bp.get("/admin/projects/<int:project_id>/report")
@login_required
def project(project_id: int):
    report, form = _project_report(project_id)
    return _page(report, form, admin_project=report.scope.project)


@bp.get("/admin/projects/<int:project_id>/report.<any(xlsx, csv):kind>")
@login_required
def project_export(project_id: int, kind: str):
    report, form = _project_report(project_id)
    return _export(report, form, kind, f"raport-projektu-{project_id}",
                   url_for("reports.project", project_id=project_id, **_filter_args("start", "end")))
