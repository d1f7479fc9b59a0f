"""The organiser's side of declarations: lists, decisions, paper entries, scans."""
from flask import Blueprint

bp = Blueprint("declarations", __name__)
