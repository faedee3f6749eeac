"""What every page room uses: the templates, the viewer (who is signed in, from the session
cookie), the API client that acts with the viewer's own credential, form refusals shown next to
their fields, and the Vietnamese formats of dates and numbers.

The web app holds no business rule: every read and write goes through the services' HTTP API
(through the gateway's own forwarding, in process), so the same access checks, validation and
events apply as for any other client. A page only decides how to show what the API answered."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import httpx
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from jinja2_fragments.fastapi import Jinja2Blocks
from starlette.datastructures import FormData

from shared.access import RIGHT_LABELS, ROLE_LABELS, Right, Role
from shared.followup import LABELS as FOLLOW_UP_LABELS
from shared.followup import FollowUp
from shared.periods import Period, PeriodError
from shared.text import grouped

HERE = Path(__file__).parent
ROOMS = ("session", "dashboard", "plans", "imports", "progress", "reports", "inbox", "admin")
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
COOKIE = "cchc_session"


# ---- formats -----------------------------------------------------------------------------------


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def dmy(value: Any) -> str:
    """dd/mm/yyyy (a moment is shown as the day in Vietnam)."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(VIETNAM)
    return moment.strftime("%d/%m/%Y")


def dmyhm(value: Any) -> str:
    """HH:MM dd/mm/yyyy, Vietnam time."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(VIETNAM)
    return moment.strftime("%H:%M %d/%m/%Y")


def number(value: Any, digits: int = 0) -> str:
    """Vietnamese digit grouping: 1.234,5."""
    if value is None or value == "":
        return ""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(amount):
        return ""
    return grouped(amount, digits)


def percent(value: Any, digits: int = 0) -> str:
    """A share 0..1 (or None) as '85 %' — the Vietnamese way, with a space."""
    if value is None:
        return "—"
    return f"{number(float(value) * 100, digits)} %"


def period_label(value: Period | str, capital: bool = True) -> str:
    """'2026-Q1' (or its Period) in words, 'Quý I năm 2026' — 'quý I năm 2026' inside a sentence
    with capital=False; a code that is not a period is shown as it is."""
    try:
        label = (value if isinstance(value, Period) else Period.parse(str(value))).label_vi()
    except PeriodError:
        return str(value)
    return label[:1].upper() + label[1:] if capital else label


def field_id(name: str, prefix: str = "f") -> str:
    """The HTML id of a form field named `name` (tasks[0].title → f-tasks-0-title)."""
    return prefix + "-" + re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-")


# the colours officials know from Vietnamese task trackers: green done on time, blue in progress
# within the deadline, orange done late, red overdue, grey not yet due
FOLLOW_UP_CLASS = {
    FollowUp.DONE_ON_TIME.value: "ok",
    FollowUp.IN_PROGRESS.value: "info",
    FollowUp.DONE_LATE.value: "warn",
    FollowUp.OVERDUE.value: "bad",
    FollowUp.NOT_DUE.value: "idle",
}


# ---- templates ---------------------------------------------------------------------------------


# base.html and _forms.html in web/templates; a room's templates as "<room>/<name>.html"
environment = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(str(HERE / "templates")),
            PrefixLoader({room: FileSystemLoader(str(HERE / room / "templates")) for room in ROOMS}),
        ]
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Blocks(env=environment)
templates.env.filters.update(
    dmy=dmy, dmyhm=dmyhm, number=number, percent=percent, period_label=period_label, urlquote=quote, field_id=field_id
)
templates.env.globals.update(
    ROLE_LABELS={r.value: label for r, label in ROLE_LABELS.items()},
    RIGHT_LABELS={r.value: label for r, label in RIGHT_LABELS.items()},
    FOLLOW_UP_CLASS=FOLLOW_UP_CLASS,
    FOLLOW_UP_LABELS={k.value: v for k, v in FOLLOW_UP_LABELS.items()},
)


# ---- who is signed in ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as the plans service knows them (GET /api/auth/me)."""

    name: str
    username: str
    unit: str
    unit_path: str
    unit_name: str
    roles: frozenset[str]
    rights: frozenset[str]
    must_change_password: bool = False

    @classmethod
    def of(cls, me: Mapping[str, Any]) -> Viewer:
        return cls(
            name=str(me.get("name") or me.get("username") or ""),
            username=str(me.get("username") or ""),
            unit=str(me.get("unit") or ""),
            unit_path=str(me.get("unit_path") or ""),
            unit_name=str(me.get("unit_name") or ("Toàn quốc" if me.get("unit_path") == "*" else "")),
            roles=frozenset(me.get("roles") or ()),
            rights=frozenset(me.get("rights") or ()),
            must_change_password=bool(me.get("must_change_password")),
        )

    def may(self, right: Right | str) -> bool:
        return str(right) in self.rights

    @property
    def is_head(self) -> bool:
        return Role.head.value in self.roles or Right.review.value in self.rights

    @property
    def is_admin(self) -> bool:
        return Right.admin.value in self.rights

    @property
    def role_label(self) -> str:
        return ", ".join(ROLE_LABELS[Role(r)] for r in sorted(self.roles) if r in Role.__members__) or "—"


class SignIn(Exception):
    """No valid session: the page sends the browser to the login page (and back afterwards)."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageError(Exception):
    """A page that cannot be shown (403, 404, 409, 503 …), with the API's Vietnamese reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---- talking to the API as the viewer ------------------------------------------------------------


_ITEM = re.compile(r"\[\d+\]$")  # an item of a list in the API's name of a value: roles[0]


@dataclass
class Refusal:
    """What the API said against a form: a general message and the messages per field."""

    status: int
    message: str
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, answer: httpx.Response) -> Refusal:
        try:
            body = answer.json()
        except ValueError:
            body = {}
        fields: dict[str, str] = {}
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, list):
            for problem in detail:
                if isinstance(problem, dict):
                    name = str(problem.get("field") or "")
                    fields[name] = (fields[name] + "; " if name in fields else "") + str(problem.get("msg", ""))
        message = body.get("message") if isinstance(body, dict) else None
        if not message:
            message = detail if isinstance(detail, str) else f"Yêu cầu bị từ chối (mã {answer.status_code})"
        return cls(answer.status_code, str(message), fields)

    def at(self, *names: str) -> str:
        """The message for a field (the first of the names given that has one)."""
        for name in names:
            if name in self.fields:
                return self.fields[name]
        return ""

    def others(self, shown: Iterable[str]) -> list[str]:
        """Messages of fields that the form does not show next to a field."""
        seen = set(shown)
        return [f"{name}: {msg}" if name else msg for name, msg in self.fields.items() if name not in seen]

    def placed(self, field_of: Callable[[str], str]) -> Refusal:
        """The refusal with each message at the form field `field_of(the API's name)`; messages
        that land on one field are joined."""
        fields: dict[str, str] = {}
        for name, message in self.fields.items():
            target = field_of(name)
            fields[target] = f"{fields[target]}; {message}" if target in fields else message
        return Refusal(self.status, self.message, fields)

    def folded(self, fields: Mapping[str, str] | None = None) -> Refusal:
        """The refusal with each problem at its form field: `fields` maps the API's name of a value
        (or of a list, whose items `name[i]` fold into it) to the form field's name."""
        names = fields or {}
        return self.placed(lambda name: names.get(name) or names.get(_ITEM.sub("", name)) or _ITEM.sub("", name))


# A unit code, an id or a period code taken from the address or a form and put into an API path
# must stay one segment of that path: "..", "?", "#" or "%2F" in it would reach another route.
_PATH_TRICKS = re.compile(r"[?#%\\]|(^|/)\.{1,2}(/|$)")


def api_path(path: str) -> str:
    """`path` if it is an API path as the page built it; a path that a value typed or put in the
    address could have turned into another route is refused (404, as a page that does not exist)."""
    if not path.startswith("/api/") or _PATH_TRICKS.search(path):
        raise PageError(404, "Không có trang này.")
    return path


ALL_AT_ONCE = 500  # the API's largest page (shared/pages.py)


class Api:
    """The services' HTTP API, called with the viewer's session through the gateway (in process)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.credential = request.cookies.get(COOKIE, "")
        gateway = request.app
        peer = (request.client.host if request.client else "127.0.0.1", 0)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway, client=peer),
            base_url=str(request.base_url),  # the viewer's own host name: one the gateway answers to
            timeout=60.0,
        )

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"accept": "application/json", "user-agent": self.request.headers.get("user-agent", "")}
        forwarded = self.request.headers.get("x-forwarded-for")
        if forwarded:
            headers["x-forwarded-for"] = forwarded
        if self.credential:
            headers["authorization"] = f"Bearer {self.credential}"
        if extra:
            headers.update(extra)
        return headers

    async def send(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The API's answer as it is (a form decides what a refusal means). A lost session (401)
        sends the browser to the login page; a path made to reach another route is a 404 page."""
        answer = await self.client.request(method, api_path(path), headers=self._headers(headers), **kwargs)
        if answer.status_code == 401 and self.credential:
            raise SignIn(_here(self.request))
        return answer

    async def json(self, path: str, **params: Any) -> Any:
        """A GET that must succeed; otherwise the page shows the API's reason (403, 404, 503 …)."""
        query = {k: v for k, v in params.items() if v is not None}
        answer = await self.send("GET", path, params=query)
        if answer.status_code == 401:
            raise SignIn(_here(self.request))
        if answer.status_code >= 400:
            raise PageError(answer.status_code, Refusal.of(answer).message)
        return answer.json()

    async def whole(self, path: str, *, cursor: str | None = None, **params: Any) -> dict[str, Any]:
        """A list the API gives page by page, whole (for a select, a tree, a count): the first
        page's answer (from `cursor`, if given) with the items of every page after it, read 500
        at a time following `next_cursor`."""
        first = found = dict(await self.json(path, **params, limit=ALL_AT_ONCE, cursor=cursor))
        items = list(found["items"])
        while found.get("next_cursor"):
            found = await self.json(path, **params, limit=ALL_AT_ONCE, cursor=found["next_cursor"])
            items += found["items"]
        return first | {"items": items, "count": len(items), "next_cursor": None}

    async def every(self, path: str, **params: Any) -> list[Any]:
        """Every item of a list the API gives page by page."""
        return list((await self.whole(path, **params))["items"])

    async def json_or_none(self, path: str, **params: Any) -> dict[str, Any] | None:
        """A GET the page can do without (a name, a plan above, a unit's report): None if refused."""
        answer = await self.send("GET", path, params={k: v for k, v in params.items() if v is not None})
        return cast(dict[str, Any], answer.json()) if answer.status_code == 200 else None

    async def aclose(self) -> None:
        await self.client.aclose()


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def api_of(request: Request) -> Any:
    api = Api(request)
    try:
        yield api
    finally:
        await api.aclose()


@dataclass
class Page:
    """What a page handler receives: the request, the viewer and their API client."""

    request: Request
    viewer: Viewer
    api: Api

    def render(
        self, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200, block: str | None = None
    ) -> HTMLResponse:
        return render(self.request, template, {"viewer": self.viewer, **(context or {})}, status=status, block=block)

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def next_page(self, cursor: str | None) -> str | None:
        """The address of this list page's next page ("Xem thêm"): the same query, with the
        API's `next_cursor` as `sau`; None on the last page."""
        if not cursor:
            return None
        query = {k: v for k, v in self.request.query_params.items() if k != AFTER} | {AFTER: cursor}
        return self.request.url.path + "?" + urlencode(query)


AFTER = "sau"  # a list page's query parameter: where its page starts (the API's cursor)


# Every page route declares who may open it: `signed_in("…")` (any signed-in person; the API
# decides, by the person's rights, what they see and may do) or `public("…")`. The declaration's
# text is what docs/access-matrix.md and the unit test of the web routes read.
ACCESS_ATTRIBUTE = "__cchc_page_access__"


def signed_in(who: str) -> Callable[..., Any]:
    async def dependency(request: Request, api: Api = Depends(api_of)) -> Page:
        if not api.credential:
            raise SignIn(_here(request))
        answer = await api.send("GET", "/api/auth/me")
        if answer.status_code != 200:
            raise SignIn(_here(request))
        return Page(request, Viewer.of(answer.json()), api)

    setattr(dependency, ACCESS_ATTRIBUTE, ("signed_in", who))
    return dependency


def public(why: str) -> Callable[..., Any]:
    async def dependency(request: Request, api: Api = Depends(api_of)) -> Api:
        return api

    setattr(dependency, ACCESS_ATTRIBUTE, ("public", why))
    return dependency


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    block: str | None = None,
) -> HTMLResponse:
    context = {"request": request, **(context or {})}
    if block is not None:
        response = templates.TemplateResponse(request, template, context, status_code=status, block_name=block)
    else:
        response = templates.TemplateResponse(request, template, context, status_code=status)
    return cast(HTMLResponse, response)


def redirect(url: str, *, htmx: bool = False) -> Response:
    """After a successful form: to the page that shows the result (303, or HX-Redirect for htmx)."""
    if htmx:
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="")


def safe_next(value: str | None) -> str:
    """Only a path of this site (no //host, no scheme): the login page never sends anyone away."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# ---- reading a posted form ----------------------------------------------------------------------


def text(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def optional(form: FormData, name: str) -> str | None:
    """The field's text, or None when left blank (the API then applies its default)."""
    return text(form, name) or None


def ticked(form: FormData, name: str) -> list[str]:
    """The values of the boxes ticked under `name`, in the form's order."""
    return [str(value) for value in form.getlist(name)]


def refused_status(refusal: Refusal) -> int:
    """The status of a page that shows a refused form again (a 4xx, as the API said)."""
    return refusal.status if 400 <= refusal.status < 500 else 400
