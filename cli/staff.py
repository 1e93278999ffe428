"""`sanzhida staff`: staff accounts."""

from __future__ import annotations

import click

from cli.common import app_services


@click.group("staff")
def staff_group() -> None:
    """Staff accounts."""


@staff_group.command("set-password")
@click.argument("staff_no")
@click.password_option("--password", prompt="New password", help="The new password (asked for when omitted).")
def staff_set_password(staff_no: str, password: str) -> None:
    """Set a staff member's dashboard password (and lift any lock-out)."""
    from sqlalchemy import select

    from models import Staff
    from services import accounts, audit
    from services.errors import DomainError

    with app_services() as svc, svc.session_factory() as session:
        staff = session.scalars(select(Staff).where(Staff.staff_no == staff_no.strip().upper())).one_or_none()
        if staff is None:
            raise click.ClickException(f"No staff member with staff number {staff_no}.")
        try:
            accounts.set_password(staff, password, svc.clock())
        except DomainError as refused:
            raise click.ClickException(refused.message) from None
        audit.record(session, svc.clock(), "staff.set_password", label="cli", target=("staff", staff.id))
        session.commit()
        click.echo(f"Password set for {staff.staff_no} ({staff.name}).")
