"""The human pages: a searchable package list and each project's platform matrix.

Rendered on the server from the same matrix document the JSON API returns, so
the page needs no script and shows exactly what the API says.
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources
from string import Template
from typing import Any

from omniwheel.index.db import ProjectState
from omniwheel.index.matrix import families_of

LIST_LIMIT = 200


@cache
def _page_template() -> Template:
    text = resources.files("omniwheel.index").joinpath("templates", "page.html").read_text()
    return Template(text)


def _page(title: str, content: str, home: str) -> bytes:
    return _page_template().substitute(title=escape(title), content=content, home=home).encode()


def render_list_page(
    projects: list[ProjectState],
    total: int,
    filenames: dict[str, list[str]],
    query: str,
    base: str = "",
) -> bytes:
    """The package list: ``projects`` match ``query`` (first ``LIST_LIMIT`` of ``total``)."""
    rows = []
    for project in projects:
        families = families_of(filenames.get(project.name, []))
        badges = "".join(f'<span class="badge">{escape(family)}</span>' for family in families)
        rows.append(
            f'<tr data-project="{escape(project.name)}">'
            f'<td><a href="{base}/project/{escape(project.name)}/">'
            f"{escape(project.display_name)}</a></td>"
            f"<td>{len(filenames.get(project.name, []))}</td><td>{badges}</td></tr>"
        )
    shown = f"{len(projects)} of {total}" if total > len(projects) else str(total)
    content = (
        "<h1>Packages</h1>\n"
        f'<form class="search" method="get" action="{base}/">'
        f'<input type="search" name="q" value="{escape(query)}" placeholder="Search packages">'
        "<button>Search</button></form>\n"
        f'<p class="note">{shown} project(s){" matching " + escape(repr(query)) if query else ""}'
        f' · simple index at <a href="{base}/simple/">{base}/simple/</a></p>\n'
        '<table id="projects"><thead><tr><th>project</th><th>files</th><th>platforms</th>'
        "</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )
    return _page("Packages", content, f"{base}/")


def render_project_page(matrix: dict[str, Any], base: str = "") -> bytes:
    """The versions x platforms table; each cell links its wheels, coloured by verdict."""
    columns = matrix["columns"]
    groups: list[tuple[str, int]] = []
    for column in columns:
        if groups and groups[-1][0] == column["title"]:
            groups[-1] = (column["title"], groups[-1][1] + 1)
        else:
            groups.append((column["title"], 1))
    head_groups = "".join(
        f'<th class="family" colspan="{span}">{escape(title)}</th>' for title, span in groups
    )
    head_keys = "".join(
        f'<th data-column="{escape(c["key"])}">{escape(c["key"])}</th>' for c in columns
    )
    body = []
    for version in matrix["versions"]:
        cells = []
        for column in columns:
            entries = version["cells"].get(column["key"], [])
            if not entries:
                cells.append(f'<td class="empty" data-column="{escape(column["key"])}"></td>')
                continue
            links = "".join(_wheel_link(entry) for entry in entries)
            cells.append(f'<td data-column="{escape(column["key"])}">{links}</td>')
        label = escape(version["version"]) + (" (yanked)" if version["yanked"] else "")
        body.append(
            f'<tr data-version="{escape(version["version"])}"><th>{label}</th>{"".join(cells)}</tr>'
        )
    name = matrix["name"]
    content = (
        f"<h1>{escape(matrix['display_name'])}</h1>\n"
        f'<p class="note">pip install --index-url &lt;this server&gt;/simple/ {escape(name)}'
        f' · <a href="{base}/simple/{escape(name)}/">simple page</a>'
        f' · <a id="matrix-json" href="{base}/api/projects/{escape(name)}">JSON</a></p>\n'
        '<table id="matrix"><thead>'
        f'<tr><th rowspan="2">version</th>{head_groups}</tr><tr>{head_keys}</tr>'
        "</thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>\n"
        '<p class="note">green: binaries load there · amber: warnings · red: errors · '
        "grey: not checked</p>"
    )
    return _page(matrix["display_name"], content, f"{base}/")


def _wheel_link(entry: dict[str, Any]) -> str:
    classes = f"wheel {entry['status']}" + (" yanked" if entry["yanked"] else "")
    title = f"{entry['filename']}: {entry['status']}"
    if entry["findings"]:
        title += "; " + "; ".join(f"{f['code']}: {f['message']}" for f in entry["findings"])
    return (
        f'<a class="{classes}" href="{escape(entry["url"])}" title="{escape(title)}" '
        f'data-status="{entry["status"]}" data-filename="{escape(entry["filename"])}">'
        f"{escape(entry['python'])}</a>"
    )
