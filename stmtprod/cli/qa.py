"""`stmtprod qa ...`: acceptance sampling from the command line.

``qa`` is a click group (plan, oc) that `stmtprod.cli` registers; the inspectors' commands of
`stmtprod.cli.qa_stages` join it when a command or the help is asked for.
"""
from __future__ import annotations

import json

import click

from stmtprod.sampling import oc as oc_mod
from stmtprod.sampling import tables
from stmtprod.sampling.plans import SEVERITIES, normalize_aql, normalize_level, plan as make_plan


def _echo_json(obj: dict) -> None:
    click.echo(json.dumps(obj, sort_keys=False))


def _table(rows: list[tuple[str, object]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _aql(_ctx, _param, value):
    if value is None:
        return None
    try:
        return normalize_aql(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _level(_ctx, _param, value):
    try:
        return normalize_level(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _ps(_ctx, _param, value):
    if value is None:
        return None
    try:
        ps = [float(x) for x in value.split(",") if x.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated fractions such as 0.01,0.02: {value!r}") from exc
    if not ps or any(not 0.0 <= p <= 1.0 for p in ps):
        raise click.BadParameter(f"fractions nonconforming must be within 0 and 1: {value!r}")
    return ps


class _WithStageCommands(click.Group):
    """`qa`, with the inspectors' commands (`stmtprod.cli.qa_stages`) joined on first use, so that
    `qa plan` and `qa oc` do not import the inspection stages."""

    def _join_stages(self) -> None:
        if "record" not in self.commands:
            from stmtprod.cli.qa_stages import COMMANDS

            for command in COMMANDS:
                self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._join_stages()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            self._join_stages()
        return super().get_command(ctx, name)


@click.group(cls=_WithStageCommands, context_settings={"help_option_names": ["-h", "--help"]})
def qa() -> None:
    """Acceptance sampling, ANSI/ASQ Z1.4 (MIL-STD-105E) single sampling by attributes."""


@qa.command("plan")
@click.option("--lot-size", type=click.IntRange(min=1), required=True, help="Units in the lot.")
@click.option("--aql", required=True, callback=_aql,
              help=f"AQL, one of: {', '.join(tables.AQL_LABELS)}.")
@click.option("--level", default="II", show_default=True, callback=_level,
              help=f"Inspection level: {', '.join(tables.LEVELS)}.")
@click.option("--severity", type=click.Choice(SEVERITIES), default="normal", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def plan_cmd(lot_size, aql, level, severity, as_json):
    """The sampling plan for a lot: code letter, sample size, Ac and Re."""
    p = make_plan(lot_size, aql, level, severity)
    if as_json:
        _echo_json(p.as_dict())
        return
    rows = [
        ("lot size", p.lot_size),
        ("AQL", p.aql_label),
        ("inspection level", p.level),
        ("severity", f"{p.severity} (Table {p.table})"),
        ("code letter", p.code_letter),
        ("plan letter", p.plan_letter + ("" if p.plan_letter == p.code_letter else " (arrow followed)")),
        ("sample size", p.sample_size),
        ("accept (Ac)", p.accept),
        ("reject (Re)", p.reject),
    ]
    if p.full_inspection:
        rows.append(("inspection", f"100%: sample size {p.sample_size} >= lot size, inspect all {p.lot_size}"))
    if p.reject > p.accept + 1:
        rows.append(("note", f"{p.accept} < d < {p.reject}: accept the lot, reinstate normal inspection"))
    click.echo(_table(rows))


@qa.command("oc")
@click.option("--sample-size", type=click.IntRange(min=1), required=True, help="n")
@click.option("--accept", type=click.IntRange(min=0), required=True, help="Ac")
@click.option("--lot-size", type=click.IntRange(min=1), default=None,
              help="Lot size: hypergeometric instead of binomial.")
@click.option("--p", "ps", callback=_ps, default=None,
              help="Fractions nonconforming, comma-separated (default: a grid to Pa < 1%).")
@click.option("--aql", callback=_aql, default=None, help="Mark this AQL (percent) on the chart.")
@click.option("--json", "as_json", is_flag=True, help='{"points": [{"p": ..., "pa": ...}, ...]} on stdout.')
@click.option("--chart", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Draw the OC curve to this PNG file.")
def oc_cmd(sample_size, accept, lot_size, ps, aql, as_json, chart):
    """Operating characteristic: probability of acceptance by lot quality."""
    grid = oc_mod.default_ps(sample_size, accept)
    if ps is None:
        ps = grid
    points = oc_mod.oc_points(sample_size, accept, ps, lot_size)
    if chart:
        # The chart shows the whole curve, whatever points were asked for.
        curve = sorted(set(grid) | set(ps))
        oc_mod.oc_chart({"sample_size": sample_size, "accept": accept, "lot_size": lot_size, "ps": curve},
                        chart, aql=aql)
    if as_json:
        out = {"sample_size": sample_size, "accept": accept, "lot_size": lot_size,
               "model": "hypergeometric" if lot_size else "binomial", "points": points}
        if chart:
            out["chart"] = chart
        _echo_json(out)
        return
    model = f"hypergeometric, lot of {lot_size}" if lot_size else "binomial"
    click.echo(f"OC curve: n = {sample_size}, Ac = {accept} ({model})")
    click.echo(f"{'p':>10}  {'Pa':>8}")
    for pt in points:
        click.echo(f"{pt['p']:>10.4f}  {pt['pa']:>8.4f}")
    if chart:
        click.echo(f"chart: {chart}")
