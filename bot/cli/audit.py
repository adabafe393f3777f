"""``recon-bot audit verify`` and ``export``: the signed log checked, or bundled for an
auditor."""

from __future__ import annotations

import dataclasses
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from domain.audit.report import VerifyReport


@main.group()
def audit() -> None:
    """Verify or export the signed audit log."""


def _print_report(report: VerifyReport, as_json: bool) -> None:
    _show(report, as_json, channel_note=False)
    if not report.ok:
        sys.exit(EXIT_FAIL)


def _show(report: VerifyReport, as_json: bool, *, channel_note: bool) -> None:
    if as_json:
        print_json(dataclasses.asdict(report))
        return
    if report.ok:
        out.print(f"audit log {report.summary()}")
    else:
        err.print(f"[bold red]audit log {report.summary()}[/]")
    for source in report.anchor_sources:
        out.print(f"  anchors used: {source}")
    if channel_note and report.anchors_checked:
        out.print(
            "  not read: the checkpoint copies posted to the compliance channel (one every "
            "RECON_ANCHOR_INTERVAL); compare the newest with the root above at its size, "
            "or save them as JSON lines and pass --anchors FILE"
        )


def _key_ids(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for value in values:
        if not re.fullmatch(r"[0-9a-f]{32}", value):
            raise click.BadParameter(
                f"{value!r} is not a key id (32 lowercase hex digits, as recon-bot init prints)"
            )
    return values


@audit.command("verify")
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Verify an exported bundle offline instead of the database.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--deep",
    is_flag=True,
    help="Also parse and re-canonicalise every body, check every audit row's columns "
    "against its signed body, and replay the log to compare every item and journal entry "
    "with the tables (slower; tables only without --bundle).",
)
@click.option(
    "--no-anchors",
    "no_anchors",
    is_flag=True,
    help="Leave the anchors file out (the report says anchors were not checked). Without "
    "it, a log with signed checkpoints needs its anchors file whole and in order.",
)
@click.option(
    "--anchors",
    "anchor_paths",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Anchors file to check against instead of RECON_AUDIT_ANCHORS (repeatable: e.g. "
    "the shared file and a copy kept elsewhere; each must cover the log).",
)
@click.option(
    "--trust",
    "trusted",
    multiple=True,
    callback=_key_ids,
    metavar="KEY_ID",
    help="Accept only signatures by this key id (repeatable; recon-bot init prints it). "
    "Without it, every key in the log's keys table counts.",
)
def audit_verify(
    bundle: Path | None,
    as_json: bool,
    deep: bool,
    trusted: tuple[str, ...],
    no_anchors: bool,
    anchor_paths: tuple[Path, ...],
) -> None:
    """Check every record, link, hash, signature, checkpoint and anchor.

    Names the first bad record and why. Exit code 1 when anything is wrong. An auditor
    who noted the key id when the desk was set up passes it with --trust: a key added
    to the log later (by someone able to write the database and re-sign it) then fails.

    Once the log has signed checkpoints, its anchors file (RECON_AUDIT_ANCHORS, or the
    bundle's anchors.jsonl) must exist, reach the newest checkpoint and be in order;
    --no-anchors skips it and says so. --deep also checks each audit row's item_id and
    event columns against its signed body and replays the log against the items and
    journal_entries tables (state, amount, currency, routing, approvers, decided_by,
    ledger_ref, every journal line), naming the first difference.

    The desk batches checkpoints: every commit is signed within RECON_AUDIT_MERGE_DELAY.
    Newer records are reported as not yet checkpointed (not a failure); records older
    than that with no checkpoint fail as an unsigned tail (a crashed desk that has not
    restarted, or records added without the key). The report names the anchors file(s)
    it used; the compliance-channel copies are not read (they are in Slack).

    \b
    Examples:
      recon-bot audit verify
      recon-bot audit verify --bundle ./audit-2026-11 --json
      recon-bot audit verify --bundle ./audit-2026-11 --trust ed815f95efdd73ebaa7a45f490cab0e9
      recon-bot audit verify --deep
      recon-bot audit verify --anchors /srv/shared/audit_anchors.jsonl --anchors ./copy.jsonl
    """
    from store.audit.anchors import AnchorFile
    from store.audit.bundle import verify_bundle
    from store.audit.verification import verify_database
    from store.engine import create_database

    pinned = set(trusted) if trusted else None
    if bundle is not None:
        report = verify_bundle(bundle, deep=deep, trusted=pinned, check_anchors=not no_anchors)
        _print_report(report, as_json)
        return
    settings = load_settings()
    files = anchor_paths or (settings.audit_anchors,)

    async def _verify() -> list[VerifyReport]:
        database = create_database(settings.database_url)
        now = datetime.now(UTC)  # the shell reads the clock once
        delay = timedelta(seconds=settings.audit_merge_delay)
        try:
            if no_anchors:
                sources: list[AnchorFile | None] = [None]
            else:
                sources = [AnchorFile(path) for path in files]
            return [
                await verify_database(
                    database,
                    anchors=anchors,
                    deep=deep,
                    trusted=pinned,
                    now=now,
                    merge_delay=delay,
                )
                for anchors in sources
            ]
        finally:
            await database.dispose()

    reports = run_coroutine(_verify())
    for report in reports[:-1]:
        _show(report, as_json, channel_note=False)
    failed = any(not report.ok for report in reports)
    _show(reports[-1], as_json, channel_note=True)
    if failed:
        sys.exit(EXIT_FAIL)


@audit.command("export")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory to write the bundle to (created if missing).",
)
def audit_export(out_dir: Path) -> None:
    """Export records, checkpoints, public keys and anchors for offline verification.

    \b
    Example:
      recon-bot audit export --out ./audit-bundle && recon-bot audit verify --bundle ./audit-bundle
    """
    from store.audit.anchors import AnchorFile
    from store.audit.bundle import export_bundle
    from store.engine import create_database

    settings = load_settings()

    async def _export() -> Any:
        database = create_database(settings.database_url)
        try:
            # The database, not a connection: the bundle is read in one snapshot, so a
            # log growing meanwhile cannot make it look truncated.
            return await export_bundle(
                database,
                out_dir,
                anchors=AnchorFile(settings.audit_anchors),
                now=datetime.now(UTC),  # the shell reads the clock once
                merge_delay=timedelta(seconds=settings.audit_merge_delay),
            )
        finally:
            await database.dispose()

    result = run_coroutine(_export())
    if result.checkpoints and not result.anchors:
        err.print(
            f"[yellow]warning: the anchors file {settings.audit_anchors} is missing or empty; "
            "the bundle fails verification unless it is verified with --no-anchors[/]"
        )
    out.print(
        f"exported to {result.directory}: {result.records} record(s), "
        f"{result.checkpoints} checkpoint(s), {result.keys} key(s), {result.anchors} anchor(s)"
    )
    if result.pending:
        out.print(
            f"left out: {result.pending} newer record(s) not yet checkpointed (the desk "
            "signs them within RECON_AUDIT_MERGE_DELAY); the next export has them"
        )
