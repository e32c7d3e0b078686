"""A page's forms as a browser submits them, for tools that walk an approval link (the demo, the smoke check)."""

from __future__ import annotations

import html.parser


class _Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({})
        elif self.forms and ((tag == "input" and attrs.get("type") == "hidden") or (tag == "button" and attrs.get("name"))):
            self.forms[-1][attrs["name"]] = attrs.get("value", "")


def page_forms(page: str) -> list[dict]:
    """Each form's hidden inputs plus its submit button's name/value, in page order."""
    parser = _Forms()
    parser.feed(page)
    return parser.forms
