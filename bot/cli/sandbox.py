"""``recon-bot sandbox``: try the desk in a browser, without a Slack workspace."""

from __future__ import annotations

import logging

import click

from bot.cli.root import fail, load_settings, main, run_coroutine


def _person(value: str) -> tuple[str, str]:
    user, sep, name = value.partition(":")
    if not sep or not user or not name:
        raise click.BadParameter(f"{value!r}: expected ID:ROLE, e.g. U0PREP1:preparer")
    return user, f"{user.removeprefix('U0').lower()} ({name})"


@main.command()
@click.option("--port", default=8080, show_default=True, help="The page's port on 127.0.0.1.")
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=1.0, max=100_000.0),
    help="Run the bot's clock, the SLA ladder and the digest schedule N times faster.",
)
@click.option(
    "--person",
    "persons",
    multiple=True,
    metavar="ID:ROLE",
    help="Someone to add besides the policy's people (e.g. U0PREP1:preparer). Repeatable.",
)
@click.pass_context
def sandbox(ctx: click.Context, port: int, speed: float, persons: tuple[str, ...]) -> None:
    """Serve the real bot to a local Slack in the browser, on 127.0.0.1 only.

    Runs a local Slack (the stand-in the tests use), the same bot `serve` runs,
    connected to it over Socket Mode, and a page to click through the desk as any
    person of the policy (`?as=U0ALICE`). Prints `open http://127.0.0.1:PORT` when
    ready; Ctrl-C stops it, and starting it again resumes the same desk.
    """
    from bot.sandbox import run_sandbox

    settings = load_settings()
    if not ctx.meta.get("recon.debug"):
        logging.getLogger().setLevel("WARNING")
    extra = dict(_person(p) for p in persons)
    try:
        run_coroutine(
            run_sandbox(
                settings,
                port=port,
                speed=speed,
                extra_people=extra,
                ready=lambda url: click.echo(f"open {url}", nl=True),
            )
        )
    except OSError as exc:
        fail(f"the sandbox could not start: {exc.strerror or exc}")
