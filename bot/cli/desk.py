"""``recon-bot init``, ``db``, ``policy`` and ``serve``: setting a desk up and running it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from bot.cli.root import (
    EXIT_FAIL,
    err,
    load_settings,
    main,
    out,
    print_json,
    run_coroutine,
)


@main.command()
@click.option("--force-policy", is_flag=True, help="Overwrite an existing policy file.")
def init(force_policy: bool) -> None:
    """Write the example policy, create the audit key and the migrated database.

    Safe to run again: an existing policy, key or database is kept (and the database
    is upgraded to the current schema).

    \b
    Example:
      recon-bot init
    """
    from bot.setup import initialize

    settings = load_settings()
    report = run_coroutine(initialize(settings, force_policy=force_policy))
    note = "written; edit teams and thresholds" if report.policy_written else "kept"
    out.print(f"policy     {settings.policy} ({note})")
    note = "created, mode 0600" if report.key_created else "kept"
    out.print(f"audit key  {settings.audit_key} ({note}; key id {report.key_id})")
    out.print(f"database   {_safe_url(settings.database_url)} (schema {report.revision})")
    out.print(f"policy version {report.policy_version}")
    for exposed in report.exposed:
        err.print(f"[yellow]warning:[/] {exposed}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations.

    \b
    Example:
      recon-bot db upgrade
    """
    from store.engine import create_database
    from store.migrate import current_revision, upgrade

    settings = load_settings()

    async def _upgrade() -> tuple[str | None, str]:
        database = create_database(settings.database_url)
        try:
            before = await current_revision(database)
            return before, await upgrade(database)
        finally:
            await database.dispose()

    before, after = run_coroutine(_upgrade())
    if before == after:
        out.print(f"schema already at {after}")
    else:
        out.print(f"schema upgraded {before or '(empty)'} -> {after}")


@db.command("status")
def db_status() -> None:
    """Show the schema revision of the database and of this code."""
    from store.engine import create_database
    from store.migrate import HEAD, current_revision

    settings = load_settings()

    async def _status() -> str | None:
        database = create_database(settings.database_url)
        try:
            return await current_revision(database)
        finally:
            await database.dispose()

    current = run_coroutine(_status())
    out.print(f"database {current or '(empty)'}; code {HEAD}")
    if current != HEAD:
        sys.exit(EXIT_FAIL)


# --- policy ----------------------------------------------------------------------------


@main.group()
def policy() -> None:
    """Validate the policy or print its JSON Schema."""


@policy.command("check")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def policy_check(path: Path | None) -> None:
    """Validate a policy file; every error names the field and the reason.

    \b
    Example:
      recon-bot policy check policy.yml
    """
    from store.policy_file import read_policy

    target = path or load_settings().policy
    loaded, _ = read_policy(target)
    p = loaded.policy
    out.print(
        f"{target}: valid (version {loaded.version}; {len(p.teams)} team(s), "
        f"reporting currency {p.reporting_currency}, {len(p.fx_rates)} FX rate(s))"
    )
    st = p.statements
    out.print(
        f"statements: {len(st.accounts)} bank account(s), balance tolerance "
        f"{st.balance_tolerance} {p.reporting_currency}, auto-approve "
        f"{'on' if st.auto_approve else 'off'}, an editor "
        f"{'may not' if st.edit_needs_other_approver else 'may'} be the only approver"
    )
    if p.accounts is None:
        err.print(
            "[yellow]warning:[/] no accounts section: journal entries carry placeholder "
            "accounts and are never delivered to a ledger (see the example in "
            "`recon-bot init`'s policy)"
        )


@policy.command("schema")
def policy_schema() -> None:
    """Print the policy's JSON Schema.

    \b
    Example:
      recon-bot policy schema > policy.schema.json
    """
    from domain.policy import policy_json_schema

    print_json(policy_json_schema())


# --- serve -----------------------------------------------------------------------------


@main.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the Slack bot over Socket Mode until SIGTERM or SIGINT.

    Needs SLACK_BOT_TOKEN (xoxb-...) and SLACK_APP_TOKEN (xapp-...); see README for how
    to create the Slack app from manifest.yml.

    SIGTERM or SIGINT stops it within a few seconds and exits 0: no new work, in-flight
    listeners finish, the last decisions are delivered, every other undelivered message
    is left due for the next start (README, "Stopping serve"). A second signal during
    the stop exits at once.

    \b
    Example:
      SLACK_BOT_TOKEN=xoxb-... SLACK_APP_TOKEN=xapp-... recon-bot serve
    """
    from bot.app import serve as serve_forever

    settings = load_settings()
    if not ctx.meta.get("recon.debug"):
        logging.getLogger().setLevel(settings.log_level.upper())
    run_coroutine(serve_forever(settings))
