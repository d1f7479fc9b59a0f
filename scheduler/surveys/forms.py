"""The question editor's form, read without WTForms: N rows of inputs named `questions-<i>-<field>`, one `action`
button (save, add, remove-<i>, up-<i>, down-<i>). Adding, removing and moving only re-render the rows as typed,
so the page works without JavaScript and nothing typed is lost; every rule lives in services.clean_questions."""
from __future__ import annotations

from .models import QuestionType
from .services import MAX_QUESTIONS

# Rows read from one POST at most: beyond the limit the domain says "too many", beyond this the rest is dropped.
MAX_ROWS = MAX_QUESTIONS + 10


def rows_of(questions: list[dict]) -> list[dict]:
    """Stored questions as editor rows (choices as text, one per line)."""
    return [{"text": q.get("text", ""), "type": q.get("type", ""), "choices": "\n".join(q.get("choices", [])),
             "required": bool(q.get("required")), "prepost": bool(q.get("prepost"))} for q in questions]


def rows_from(form) -> list[dict]:
    rows = []
    for index in range(MAX_ROWS):
        prefix = f"questions-{index}-"
        if prefix + "type" not in form and prefix + "text" not in form:
            break
        rows.append({"text": form.get(prefix + "text", ""), "type": form.get(prefix + "type", ""),
                     "choices": form.get(prefix + "choices", ""), "required": prefix + "required" in form,
                     "prepost": prefix + "prepost" in form})
    return rows


def rearrange(rows: list[dict], action: str) -> tuple[list[dict], int | None]:
    """The rows after an add/remove/move button, and the row to put the focus on (None: the action was not one)."""
    name, _, number = action.partition("-")
    if name == "add":
        if len(rows) >= MAX_QUESTIONS:
            return rows, None
        rows.append({"text": "", "type": QuestionType.SCALE.value, "choices": "", "required": False,
                     "prepost": False})
        return rows, len(rows) - 1
    if not number.isdigit() or int(number) >= len(rows):
        return rows, None
    index = int(number)
    if name == "remove":
        del rows[index]
        return rows, min(index, len(rows) - 1) if rows else None
    target = index - 1 if name == "up" else index + 1 if name == "down" else None
    if target is None or not 0 <= target < len(rows):
        return rows, None
    rows[index], rows[target] = rows[target], rows[index]
    return rows, target
