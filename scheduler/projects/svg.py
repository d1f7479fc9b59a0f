"""The logo strip as SVG: read without DTDs or entities (defusedxml), rebuilt from an allowlist of drawing elements
and attributes (nothing that runs, loads or links out survives), and drawn as PNG for e-mails (CairoSVG)."""
from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET

import cairosvg
from PIL import Image, UnidentifiedImageError
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from flask_babel import lazy_gettext as _l

from ..errors import ValidationFailed

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
ET.register_namespace("xlink", XLINK_NS)

# The PNG is drawn at twice the height the footer shows it (80 px), sharp on high-density screens.
PNG_HEIGHT = 160
MAX_RATIO = 50  # at most 8000 px wide at PNG_HEIGHT, as for uploaded PNGs
MAX_DEPTH = 40
MAX_ELEMENTS = 5000
MAX_USES = 200

ELEMENTS = {"svg", "g", "defs", "title", "desc", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
            "text", "tspan", "linearGradient", "radialGradient", "stop", "clipPath", "mask", "use", "symbol", "image"}
DRAWING = {"path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "image", "use"}
TEXT_ELEMENTS = {"title", "desc", "text", "tspan"}
PRESENTATION = {
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "opacity", "transform",
    "font-family", "font-size", "font-weight", "font-style", "font-variant", "font-stretch", "text-anchor",
    "dominant-baseline", "alignment-baseline", "baseline-shift", "letter-spacing", "word-spacing",
    "text-decoration", "clip-path", "clip-rule", "mask", "stop-color", "stop-opacity", "color", "display",
    "visibility", "paint-order", "vector-effect", "mix-blend-mode", "isolation"}
ATTRIBUTES = PRESENTATION | {
    "id", "class", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr", "width",
    "height", "d", "points", "viewBox", "preserveAspectRatio", "offset", "gradientUnits", "gradientTransform",
    "spreadMethod", "clipPathUnits", "maskUnits", "maskContentUnits", "dx", "dy", "rotate", "textLength",
    "lengthAdjust", "refX", "refY", "pathLength", "version"}
LOCAL_REF = re.compile(r"#[A-Za-z_][\w.:-]{0,200}")
LOCAL_URL = re.compile(r"""url\(\s*(['"]?)#[A-Za-z_][\w.:-]{0,200}\1\s*\)""")
DATA_IMAGE = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=\s]+")
LENGTH = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(px|pt|mm|cm|in)?\s*")
PLAIN_DOCTYPE = re.compile(rb"<!DOCTYPE\s+svg(\s+PUBLIC\s+\"[^\"<>\[\]]*\"\s+\"[^\"<>\[\]]*\")?\s*>", re.IGNORECASE)

UNREADABLE = _l("This SVG file could not be read or contains something not allowed (such as a document type "
                "declaration with entities). Save it again as plain SVG, or upload a PNG or JPEG image.")
EMPTY = _l("Nothing would remain of this SVG file after removing what a logo strip may not contain (scripts, "
           "links, embedded pages). Upload the strip as plain shapes, or as a PNG or JPEG image.")
NO_SIZE = _l("The SVG file must give its size (a viewBox, or a width and height), and the strip may be at most "
             "%(ratio)d times as wide as it is high.", ratio=MAX_RATIO)
TOO_COMPLEX = _l("The SVG file is too complex for a logo strip (at most %(count)d elements).", count=MAX_ELEMENTS)


def _refuse(message) -> ValidationFailed:
    return ValidationFailed(fields={"logo_strip": message})


def looks_like_svg(data: bytes) -> bool:
    """Whether an upload is meant as SVG (XML), told from its first bytes rather than from its name."""
    head = data[:512].lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg", b"<!--"))


def clean_svg_strip(data: bytes) -> str:
    """The uploaded SVG rebuilt from what a logo strip needs; ValidationFailed when it cannot be read safely, is too
    complex, has no size or draws nothing."""
    data = data.lstrip(b"\xef\xbb\xbf").lstrip()
    # Illustrator's plain public DOCTYPE carries nothing; any other (entities, internal subset) is refused below.
    data = PLAIN_DOCTYPE.sub(b"", data, count=1)
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ET.ParseError, ValueError) as exc:
        raise _refuse(UNREADABLE) from exc
    if _local(root.tag) != "svg":
        raise _refuse(UNREADABLE)
    count = sum(1 for _ in root.iter())
    if count > MAX_ELEMENTS or _depth(root) > MAX_DEPTH:
        raise _refuse(TOO_COMPLEX)
    clean = _rebuild(root)
    _drop_amplifying_uses(clean)
    if not any(_local(e.tag) in DRAWING for e in clean.iter()):
        raise _refuse(EMPTY)
    _give_size(clean)
    clean.set("xmlns", SVG_NS)
    return ET.tostring(clean, encoding="unicode")


def svg_strip_png(svg: str) -> bytes:
    """The sanitised strip drawn as PNG (for e-mails, which cannot show SVG); CairoSVG may not fetch anything."""
    try:
        return cairosvg.svg2png(bytestring=svg.encode("utf-8"), output_height=PNG_HEIGHT, unsafe=False)
    except Exception as exc:  # CairoSVG raises many kinds on a drawing it cannot handle; all mean "unreadable"
        raise _refuse(UNREADABLE) from exc


def _local(tag) -> str | None:
    """The element's SVG name, or None for anything outside the SVG namespace (editors' metadata, comments)."""
    if not isinstance(tag, str):
        return None
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return name if namespace == SVG_NS else None
    return tag


def _depth(element, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    return max([level, *(_depth(child, level + 1) for child in element)])


def _rebuild(source) -> ET.Element:
    name = _local(source.tag)
    element = ET.Element(name)  # in SVG's namespace, declared once on the root (see clean_svg_strip)
    for key, value in source.attrib.items():
        kept = _attribute(name, key, value)
        if kept is not None:
            element.set(*kept)
    if name in TEXT_ELEMENTS and source.text:
        element.text = source.text
    for child in _unwrapped(source):
        if _local(child.tag) in ELEMENTS:
            copy = _rebuild(child)
            if name == "text" and child.tail:
                copy.tail = child.tail
            element.append(copy)
    return element


def _unwrapped(source):
    """The children, with links unwrapped: a logo may be drawn inside an <a>; the drawing stays, the link goes."""
    for child in source:
        if _local(child.tag) == "a":
            yield from _unwrapped(child)
        else:
            yield child


def _attribute(element: str, key: str, value: str) -> tuple[str, str] | None:
    if key in ("href", f"{{{XLINK_NS}}}href"):
        value = value.strip()
        if LOCAL_REF.fullmatch(value):
            return f"{{{XLINK_NS}}}href", value
        if element == "image" and DATA_IMAGE.fullmatch(value):
            image = _reencoded(value)
            return (f"{{{XLINK_NS}}}href", image) if image else None
        return None
    if key == f"{{{XML_NS}}}space" and value in ("default", "preserve"):
        return key, value
    if key == "style":
        kept = _style(value)
        return ("style", kept) if kept else None
    if key in ATTRIBUTES and _safe_value(value):
        return key, value
    return None


def _reencoded(uri: str) -> str | None:
    """An embedded PNG or JPEG as a fresh PNG data URI (as uploads are re-encoded), or None when Pillow cannot read
    it as one."""
    try:
        with Image.open(io.BytesIO(base64.b64decode(uri.partition(",")[2], validate=False))) as image:
            if image.format not in ("PNG", "JPEG") or image.width * image.height > 8000 * 3000:
                return None
            out = io.BytesIO()
            image.convert("RGBA").save(out, "PNG")
    except (UnidentifiedImageError, ValueError, OSError, Image.DecompressionBombError):
        return None
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _style(value: str) -> str:
    """Only presentation properties with safe values stay (no url() but to the drawing's own ids, no @import)."""
    kept = []
    for declaration in value.split(";"):
        prop, colon, val = declaration.partition(":")
        prop, val = prop.strip().lower(), val.strip()
        if colon and prop in PRESENTATION and val and _safe_value(val):
            kept.append(f"{prop}:{val}")
    return ";".join(kept)


def _safe_value(value: str) -> bool:
    rest = LOCAL_URL.sub("", value).lower()
    return not any(bad in rest for bad in ("url(", "\\", "expression", "javascript:", "@", "<", "image-set"))


def _give_size(root: ET.Element) -> None:
    """A viewBox the strip scales by: the file's own, else one made from a plain width and height."""
    width, height = (LENGTH.fullmatch(root.get(side, "")) for side in ("width", "height"))
    for side, match in (("width", width), ("height", height)):
        if side in root.attrib and match is None:
            del root.attrib[side]  # percentages and the like: the viewBox decides
    box = root.get("viewBox", "")
    numbers = re.split(r"[\s,]+", box.strip()) if box.strip() else []
    try:
        w, h = (float(numbers[2]), float(numbers[3])) if len(numbers) == 4 else (None, None)
        if w is None and width and height and not width.group(2) and not height.group(2):
            w, h = float(width.group(1)), float(height.group(1))
            root.set("viewBox", f"0 0 {width.group(1)} {height.group(1)}")
    except ValueError:
        w = h = None
    if not w or not h or w <= 0 or h <= 0 or w / h > MAX_RATIO:
        raise _refuse(NO_SIZE)


def _drop_amplifying_uses(root: ET.Element) -> None:
    """<use> may repeat a drawing, not a drawing that itself repeats others: nested uses multiply the work of every
    reader (a "billion laughs" made of shapes), so such uses, and any beyond MAX_USES, are dropped."""
    repeating = {e.get("id") for e in root.iter() if e.get("id") and any(
        _local(d.tag) == "use" for d in e.iter())}
    seen = 0
    for parent in list(root.iter()):
        for child in list(parent):
            if _local(child.tag) != "use":
                continue
            target = (child.get(f"{{{XLINK_NS}}}href") or "")[1:]
            seen += 1
            if not target or target in repeating or seen > MAX_USES:
                parent.remove(child)
