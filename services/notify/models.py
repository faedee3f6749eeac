"""Tables of the notify service, in schema `notify`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Time,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.outbox import inbox_table, outbox_table

SCHEMA = "notify"
metadata = MetaData(schema=SCHEMA)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Uuid, primary_key=True),
    # (rule, occurrence, recipient): one notification, whatever the redeliveries or replicas
    Column("dedup_key", Text, nullable=False, unique=True),
    Column("unit_code", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
    Column("unit_path", Text),
    Column("event_id", Uuid),  # the triggering event: idempotency keys of deliveries derive from it
    Column("plan_id", Uuid),
    Column("context", JSONB, nullable=False, server_default="{}"),  # the template variables (digests use them)
    # Held for the unit's daily digest instead of being sent on its own; digest_id: the digest that carried it.
    Column("in_digest", Boolean, nullable=False, server_default=text("false")),
    Column("digest_id", Uuid),
    Column("read_by", Text),  # the subject of who first marked it read
    Index("notifications_unit", "unit_code", "created_at"),
    Index("notifications_digest_pending", "unit_code", postgresql_where=text("in_digest AND digest_id IS NULL")),
)

# Notification rules of a plan or a unit: only the fields set (JSON); a unit's override a plan's,
# which override the deployment's defaults.
rules = Table(
    "rules",
    metadata,
    Column("scope", Text, primary_key=True),  # plan | unit
    Column("key", Text, primary_key=True),  # the plan id or the unit code
    Column("settings", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # the unit whose heads may change or remove the rule: the unit's own, or the unit that set a
    # plan's rules (notify does not know plans' issuers); NULL: set nationally
    Column("owner_path", Text),
    Column("updated_by", Text, nullable=False, server_default=""),  # subject of who set it last
)

# The units notify has heard of, code → path, from the events it turned into notifications: what
# places a unit code named in a request in the unit tree, to check it against the caller.
units = Table(
    "units",
    metadata,
    Column("code", Text, primary_key=True),
    Column("path", Text, nullable=False),
)

# An overdue occurrence waiting for its grace period to end: then the supervising unit (the
# parent in the unit tree) is told, once, unless a completed report or a change came first.
escalations = Table(
    "escalations",
    metadata,
    Column("assignment_id", Uuid, primary_key=True),
    Column("due", Date, primary_key=True),
    Column("unit_code", Text, nullable=False),
    Column("unit_path", Text, nullable=False),
    Column("parent_code", Text, nullable=False),
    Column("parent_path", Text, nullable=False),
    Column("plan_id", Uuid, nullable=False),
    Column("context", JSONB, nullable=False),
    Column("escalate_on", Date, nullable=False),  # Vietnam date
    Column("status", Text, nullable=False),  # pending | sent | resolved
    Column("resolution", Text, nullable=False, server_default=""),  # why it was not needed
    Column("notification_id", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("escalations_pending", "escalate_on", postgresql_where=text("status = 'pending'")),
)

# What makes an escalation pointless, kept even when it arrives before the overdue event (the
# streams are not ordered with each other): a done report for a due date, or a cancellation
# (due = 9999-12-31: every due date of the assignment).
settled = Table(
    "settled",
    metadata,
    Column("assignment_id", Uuid, primary_key=True),
    Column("due", Date, primary_key=True),
    Column("reason", Text, nullable=False),  # done | cancelled
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Who in a unit receives notifications outside the app, and how (channels in order of preference).
contacts = Table(
    "contacts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("unit_code", Text, nullable=False),
    # where the unit is in the tree, as whoever added the contact placed it: a contact receives
    # only the notifications of the unit at that path (NULL: added nationally, by code alone)
    Column("unit_path", Text),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("webhook_url", Text),
    Column("webhook_secret", Text),
    Column("channels", JSONB, nullable=False),  # e.g. ["webhook", "email"]: the next one if one fails for good
    Column("quiet_start", Time),  # Vietnam time; nothing is sent inside [start, end)
    Column("quiet_end", Time),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", Text, nullable=False, server_default=""),  # subject of who added it
    Index("contacts_unit", "unit_code"),
)

# One message to one contact over one channel; attempts are recorded below.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("notification_id", Uuid, ForeignKey("notify.notifications.id"), nullable=False),
    Column("contact_id", Uuid, ForeignKey("notify.contacts.id"), nullable=False),
    Column("channel", Text, nullable=False),  # email | webhook
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("status", Text, nullable=False),  # pending | sent | failed (the dead-letter list)
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),  # claimed by a worker until then
    Column("last_error", Text, nullable=False, server_default=""),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("deliveries_notification", "notification_id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("delivery_id", Uuid, ForeignKey("notify.deliveries.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Index("delivery_attempts_delivery", "delivery_id"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
