"""Sites on leaf nodes (README, "Scaling"): a commune (or a former district, or a province under a
national hub) can run its own deployment — its own nats-server as a leaf node of the hub with a
JetStream domain of its own, its own PostgreSQL and services — and keep working while its link
to the hub is cut. Nothing is synchronised by hand: each side's streams *source* what the other
side owns across the leaf connection, and JetStream keeps what was written while the link was
down and delivers it when it comes back (the consumers' inbox makes a replay harmless).

Who owns what, said once here:
- The hub owns the directory (unit.*) and every plan issued above the site; a site sources
  those of its ancestors (and the directory of its own subtree) into its own streams, and the
  report decisions (report.accepted / report.returned) made on its units.
- A site owns the work of its subtree: its own plans, its assignments, progress reports,
  reminders (occurrence.*), notification failures and audit records. The hub sources them from
  the site, filtered to the site's subtree: a site can contribute nothing about another unit.
- The hub's tasks makes no assignments for units served by a site (their site makes them, with
  the same ids: they derive from the plan, task, unit and period), and its notify sends them no
  reminders; so nothing is done twice, whether the link is up or not.
Application subjects never cross the leaf connection live (the remote denies `<prefix>.>` both
ways): what crosses is sourcing only, so an event is stored once on each side.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from nats.js.api import ExternalStream, StreamSource, SubjectTransform

from shared.access import within
from shared.events import stream_name
from shared.units import SEPARATOR

HUB_DOMAIN = "hub"
UNIT_PATH = re.compile(r"[0-9A-Za-z]+(\.[0-9A-Za-z]+)*")
# the families a site writes and the hub sources from it (its subtree only)
UP = ("plan", "assignment", "progress", "occurrence", "notification", "audit")
# the families the hub writes and a site sources: which event types, for which units
DOWN_ANCESTORS = ("unit", "plan")  # the directory entries and plans of the units above the site
DOWN_SUBTREE = {"unit": ("*",), "report": ("accepted", "returned")}  # …and these about its own subtree


def domain_of(path: str) -> str:
    """The JetStream domain of the site serving the unit at `path` (`52.21787` → `site-52-21787`)."""
    return "site-" + path.replace(SEPARATOR, "-")


def ancestors_of(path: str) -> list[str]:
    """The paths of the units above `path`, root first (`52.100.21787` → `52`, `52.100`)."""
    codes = path.split(SEPARATOR)
    return [SEPARATOR.join(codes[:index]) for index in range(1, len(codes))]


def _identity(subject: str) -> SubjectTransform:
    """A filter that keeps a subject as it is (JetStream wants a destination for each filter)."""
    tokens = subject.split(".")
    dest, wildcard = [], 0
    for token in tokens:
        if token == "*":
            wildcard += 1
            dest.append(f"{{{{wildcard({wildcard})}}}}")
        else:
            dest.append(token)
    return SubjectTransform(src=subject, dest=".".join(dest))


def subtree_subjects(prefix: str, family: str, path: str, types: tuple[str, ...] = ("*",)) -> list[str]:
    """The subjects of `family`'s events (of `types`) about the unit at `path` and those below it."""
    return [s for t in types for s in (f"{prefix}.{family}.{t}.{path}", f"{prefix}.{family}.{t}.{path}.>")]


def deliver_subject(prefix: str, domain: str, family: str, direction: str) -> str:
    """Where a source's messages cross the leaf connection: outside `<prefix>.>`, which the
    connection does not carry, and one per site, family and direction."""
    return f"{prefix}-federation.{domain}.{direction}.{family}"


@dataclass(frozen=True)
class Federation:
    """This deployment's place: a hub serving `sites` (unit paths), a site serving `site`, or
    neither (a deployment of its own, the default)."""

    prefix: str
    site: str | None = None
    sites: tuple[str, ...] = ()
    hub_domain: str = HUB_DOMAIN

    @property
    def domain(self) -> str | None:
        """This deployment's JetStream domain (a hub's when it serves sites)."""
        if self.site:
            return domain_of(self.site)
        return self.hub_domain if self.sites else None

    def serves(self, unit_path: str) -> bool:
        """Whether this deployment does the work of the unit at `unit_path` (makes its assignments,
        sends its reminders): a site, its subtree; a hub, every unit not served by a site."""
        if self.site:
            return within(unit_path, self.site)
        return not any(within(unit_path, site) for site in self.sites)

    def sources(self, family: str) -> list[StreamSource]:
        """What `family`'s stream here sources from the other side of the leaf connections."""
        name = stream_name(self.prefix, family)
        if self.site:
            subjects: list[str] = []
            if family in DOWN_ANCESTORS:
                subjects += [f"{self.prefix}.{family}.*.{above}" for above in ancestors_of(self.site)]
            if family in DOWN_SUBTREE:
                subjects += subtree_subjects(self.prefix, family, self.site, DOWN_SUBTREE[family])
            if not subjects:
                return []
            external = ExternalStream(
                api=f"$JS.{self.hub_domain}.API",
                deliver=deliver_subject(self.prefix, self.domain or "", family, "down"),
            )
            return [StreamSource(name=name, external=external, subject_transforms=[_identity(s) for s in subjects])]
        if family not in UP:
            return []
        return [
            StreamSource(
                name=name,
                external=ExternalStream(
                    api=f"$JS.{domain_of(site)}.API",
                    deliver=deliver_subject(self.prefix, domain_of(site), family, "up"),
                ),
                subject_transforms=[_identity(s) for s in subtree_subjects(self.prefix, family, site)],
            )
            for site in self.sites
        ]


def leaf_permissions(prefix: str, site: str, hub_domain: str = HUB_DOMAIN) -> dict[str, Any]:
    """What a site's leaf connection may carry, enforced by the hub on the site's user: up, the
    requests of the site's own sources to the hub's JetStream (creating consumers on the streams
    it sources, nothing else: no stream can be read whole, changed or deleted from a site) and the
    deliveries of the hub's sources from the site; down, the same the other way. Never an
    application subject (`<prefix>.>`): events cross by sourcing only."""
    domain = domain_of(site)
    streams = sorted({stream_name(prefix, f) for f in (*DOWN_ANCESTORS, *DOWN_SUBTREE)})
    return {
        "publish": {
            "allow": [
                *(f"$JS.{hub_domain}.API.CONSUMER.CREATE.{s}" for s in streams),
                *(f"$JS.{hub_domain}.API.CONSUMER.CREATE.{s}.>" for s in streams),
                "$JS.FC.>",
                "$JSC.R.>",  # the site's JetStream answering the hub's sources
                deliver_subject(prefix, domain, "*", "up").rpartition(".")[0] + ".>",
            ]
        },
        "subscribe": {
            "allow": [
                f"$JS.{domain}.API.>",
                "$JS.FC.>",
                "$JSC.R.>",  # the hub's JetStream answering the site's sources
                deliver_subject(prefix, domain, "*", "down").rpartition(".")[0] + ".>",
            ]
        },
    }


@dataclass(frozen=True)
class HubLink:
    """A site's credentials on its hub, as the hub writes them for the operator to hand over
    (`<data>/secrets/nats/site-<unit>.json`) and `cchc up --site … --hub-credentials` reads."""

    site: str
    url: str  # nats-leaf://host:port (a hub cluster: each node's, comma-separated)
    user: str
    password: str
    hub_domain: str = HUB_DOMAIN

    @classmethod
    def read(cls, path: Path) -> HubLink:
        data = json.loads(path.read_text(encoding="utf-8"))
        missing = [k for k in ("site", "url", "user", "password") if not data.get(k)]
        if missing:
            raise ValueError(f"thiếu {', '.join(missing)}")
        return cls(
            site=data["site"],
            url=data["url"],
            user=data["user"],
            password=data["password"],
            hub_domain=data.get("hub_domain", HUB_DOMAIN),
        )

    def write(self, path: Path) -> None:
        from shared.nats_security import write_secret

        text = json.dumps(
            {
                "site": self.site,
                "url": self.url,
                "user": self.user,
                "password": self.password,
                "hub_domain": self.hub_domain,
            },
            indent=2,
        )
        write_secret(path, text + "\n")

    def with_url(self, url: str) -> HubLink:
        return replace(self, url=url)

    def url_with_credentials(self) -> str:
        """The leaf URL(s) with the site's user and password in each (a hub cluster: one per node)."""
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        urls = []
        for url in self.url.split(","):
            parts = urlsplit(url.strip())
            urls.append(urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}")))
        return ",".join(urls)
