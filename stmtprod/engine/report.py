"""The run report, written to the run folder at release, halt or wait: `report.json` and `report.pdf`.

Its first lines answer "can we mail tonight" (`stmtprod.engine.verdict`): the decision, why, the evidence
and the commands to run next. Everything in it is read from the ledger and the run's own files (summary, quarantine, envelope
logs), so its numbers are the ledger's: counts per region and their reconciliation, quarantine
reasons by kind, each inspection lot's plan, sample, defects and decision with the plan's
operating-characteristic curve, halts, insert consumption against inventory, timings per step, and
the layout and catalog versions.
"""
from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from xml.sax.saxutils import escape

from stmtprod.catalog import Catalog
from stmtprod.escape_bound import escape_bound, load_campaign
from stmtprod.fsutil import write_bytes, write_json
from stmtprod.inspect.config import STAGE_NAMES
from stmtprod.inspect.history import history_lines
from stmtprod.jsonrows import Fields
from stmtprod.engine.ledger import Ledger
from stmtprod.render.fonts import find_font
from stmtprod.occhart import oc_chart
from stmtprod.engine.verdict import verdict


_INSERTS = Fields("inserts")  # what the report counts of an envelope log row


def build_report(ledger: Ledger, run_id: str, run_dir: Path, summary: dict, catalog: Catalog) -> dict:
    run = ledger.run(run_id)
    batches = list(ledger.batches(run_id).values())
    regions = {}
    for b in batches:
        r = regions.setdefault(b["region"], {"batches": 0, "pieces": 0, "sheets": 0})
        r["batches"] += 1
        r["pieces"] += b["pieces"]
        r["sheets"] += b["sheets"] or 0
    quarantine = Path(summary["quarantine_file"])
    reasons = Counter()
    if quarantine.exists():
        with open(quarantine, encoding="utf-8") as rows:  # streamed: a night may hold millions of rejects
            for line in rows:
                row = json.loads(line)
                reasons[(row["kind"], row["field"])] += 1
    consumed = Counter()
    envelope_logs = [path for folder in ("release", "staging")
                     for path in sorted((run_dir / folder / "envelopes").glob("*.jsonl"))]
    for path in envelope_logs:
        for line in path.read_text(encoding="utf-8").splitlines():
            consumed.update(_INSERTS(line)["inserts"])
    reached = bool(envelope_logs)
    lots = []
    for s in ledger.stages(run_id):
        plan = s["plan"]
        lots.append({"stage": s["stage"], "name": STAGE_NAMES[s["stage"]], "lot": s["lot"], "lot_size": s["lot_size"],
                     "full_inspection": len(s["sample"]) >= s["lot_size"],
                     "severity": plan["severity"], "code_letter": plan["code_letter"], "aql": plan["aql"],
                     "sample_size": len(s["sample"]), "accept": plan["accept"], "reject": plan["reject"],
                     "seed": s["seed"], "defects": s["defects"],
                     "defective": len({d["piece"] for d in s["defects"] or []}) if s["defects"] is not None else None,
                     "decision": s["decision"], "inspector": s["inspector"], "at": s["at"],
                     "original": bool(s["original"]), "drill": s["drill"]})
    events = ledger.lot_events(run_id)
    return {
        "run_id": run_id, "state": run["state"], "drill": (run["options"] or {}).get("drill"),
        "verdict": verdict(ledger, run_id, run_dir, summary), "input": run["input_path"],
        "input_sha256": run["input_sha256"],
        "layouts_version": run["layouts_version"], "catalog_version": run["catalog_version"],
        "counts": summary["counts"], "reconciled": summary["reconciled"], "regions": regions,
        "suppressed_by_reason": summary["suppressed_by_reason"],
        "postal_classes": summary.get("postal_classes", {}),
        "quarantined_by_kind": summary["quarantined_by_kind"],
        "quarantine_reasons": [{"kind": k, "field": f, "count": n} for (k, f), n in sorted(reasons.items())],
        "inspection": lots,
        "lot_history": events,
        "pulled": ledger.pulled(run_id),
        "challenges": summary.get("challenges"),
        "halts": ledger.halts(run_id),
        "inserter_reached": reached,
        "inserter_loop": _loop(ledger, run_id),
        "inserts": [{"code": i.code, "hopper": i.hopper, "title": i.title, "inventory": i.inventory,
                     "consumed": consumed.get(i.code, 0) if reached else None,
                     "left": i.inventory - consumed.get(i.code, 0) if reached else None}
                    for i in sorted(catalog.insert, key=lambda i: i.hopper)],
        "timings": summary.get("timings", {}),
        "history": ledger.history(run_id),
        "escape_bound": escape_bound(load_campaign(), summary["counts"].get("sheets", 0), ledger.halts(run_id)),
    }


def _loop(ledger: Ledger, run_id: str) -> dict:
    """The inserter loop's count check (`stmtprod.inserting.fates`): scheduled = mailed + pulled + ..."""
    from stmtprod.inserting.fates import count_check

    return count_check(ledger, run_id)


def _counted(lot: dict) -> str:
    """Whether a lot's decision entered the switching rules, and why not."""
    if lot.get("drill"):
        return "no: drill"
    if lot["decision"] in (None, "rerender"):
        return "-"
    if lot["decision"] == "screened":
        return "no: correction"
    return "counted" if lot.get("original") else "no: re-inspection"


def render_pdf(report: dict) -> bytes:
    font = "DejaVuSans"
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(font, str(find_font("DejaVuSans.ttf"))))
    body = ParagraphStyle("body", fontName=font, fontSize=8.5, leading=11)
    head = ParagraphStyle("head", fontName=font, fontSize=12, leading=16, spaceBefore=8)
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=20)
    style = TableStyle([("FONT", (0, 0), (-1, -1), font, 7.5), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP")])

    def table(rows: list[list]) -> Table:
        return Table([[escape(str(c)) if isinstance(c, str) else c for c in row] for row in rows],
                     style=style, hAlign="LEFT", repeatRows=1)

    counts = report["counts"]
    drill = ([Paragraph(f"DRILL RUN ({escape(report['drill'])}): a training run; its lots are not production "
                        "quality decisions and do not enter the switching rules", head)] if report.get("drill") else [])
    story = [*drill, Paragraph(f"Run report {escape(report['run_id'])}: {report['state']}", title),
             _verdict_box(report["verdict"], font, body),
             Paragraph(f"Input {escape(report['input'])} (SHA-256 {report['input_sha256'][:16]}…); layouts "
                       f"{report['layouts_version']}, catalog {report['catalog_version']}", body),
             Paragraph("Counts and reconciliation", head),
             Paragraph(f"input {counts['input']} = produced {counts['produced']} + quarantined "
                       f"{counts['quarantined']} + suppressed {counts['suppressed']}"
                       + (f" + not released {counts['not_released']}" if counts.get("not_released") else "")
                       + (" — reconciled" if report["reconciled"] else " — DOES NOT RECONCILE")
                       + f"; sheets {counts['sheets']}"
                       + (f"; pulled at inspection {counts['pulled']} of the produced pieces, to mail "
                          f"{counts['produced'] - counts['pulled']}" if counts.get("pulled") else ""), body),
             table([["region", "batches", "pieces", "sheets"]]
                   + [[r, v["batches"], v["pieces"], v["sheets"]] for r, v in report["regions"].items()]),
             Paragraph("Quarantine reasons", head),
             table([["kind", "field", "records"]]
                   + [[q["kind"], q["field"], q["count"]] for q in report["quarantine_reasons"]]),
             Paragraph("Suppressed: " + escape(", ".join(f"{k} {v}" for k, v in report["suppressed_by_reason"].items())
                                               or "none"), body),
             *([Paragraph("Postal classes (mailing manifest): envelopes with and without the postal "
                          "operator's barcode, for the lodgement", head),
                table([["tray", "class", "envelopes"]]
                      + [[tray, name, n] for tray, classes in sorted(report["postal_classes"].items())
                         for name, n in sorted(classes.items())])] if report.get("postal_classes") else []),
             Paragraph("Inspection", head),
             table([["stage", "lot", "lot size", "severity", "letter", "AQL", "n", "Ac", "Re", "defective",
                     "decision", "inspector", "switching"]]
                   + [[f"{x['stage']} {x['name']}", x["lot"], x["lot_size"], x["severity"], x["code_letter"], x["aql"],
                       f"{x['sample_size']} (100%)" if x.get("full_inspection") else x["sample_size"],
                       x["accept"], x["reject"],
                       "-" if x["defective"] is None else x["defective"], x["decision"] or "pending",
                       x["inspector"] or "-", _counted(x)] for x in report["inspection"]])]
    if any(x.get("full_inspection") for x in report["inspection"]):
        story.append(Paragraph("n (100%): the sample is the whole lot, so every piece of that lot is inspected "
                               "(100% inspection): small lots at these AQLs call for it.", body))
    for stage in (1, 2, 3, 4):
        lots = [x for x in report["inspection"] if x["stage"] == stage]
        plans = sorted({(x["sample_size"], x["accept"]) for x in lots})
        if plans:
            story.append(oc_chart(f"Stage {stage} ({STAGE_NAMES[stage]}): operating characteristic, probability of "
                                  "acceptance against the lot's fraction nonconforming", lots[0]["aql"], plans, lots,
                                  font))
    story += [Paragraph("Lot history: every sample, finding, decision and correction", head)]
    story += [Paragraph(escape(line), body) for line in history_lines(report["lot_history"])] or [Paragraph("none", body)]
    if report["pulled"]:
        story += [Paragraph("Pieces pulled by screening (in the print files, not to be mailed)", head),
                  table([["sequence", "account", "stage", "lot", "inspector", "reason"]]
                        + [[p["sequence"], p["account_id"], p["stage"], p["lot"], p["inspector"], p["reason"]]
                           for p in report["pulled"]])]
    story += _challenges(report.get("challenges"), head, body, table)
    story += [Paragraph("Halts", head)]
    story += [Paragraph(escape(f"{h['at']}: {h['reason']} (step {h.get('step')}, piece {h.get('piece')}, field "
                               f"{h.get('field')}, expected {h.get('expected')}, found {h.get('found')})"), body)
              for h in report["halts"]] or [Paragraph("none", body)]
    bound = report.get("escape_bound")
    if bound:
        story += [Paragraph("Escape bound (95%): sheets that could have left wrong", head),
                  table([["fault class", "campaign trials", "missed", "miss-rate bound", "caught in run",
                          "escapes given caught", "worst case (every sheet)"]]
                        + [[r["class"], r["trials"], r["missed"], f"{r['miss_rate_upper_95']:.6f}", r["caught_in_run"],
                            "-" if r["escapes_upper_given_caught"] is None else f"{r['escapes_upper_given_caught']:.4f}",
                            f"{r['escapes_upper_worst_case']:.2f}"] for r in bound["classes"]]
                        + [["total", "", "", "", "",
                            "-" if bound["total_upper_given_caught"] is None else f"{bound['total_upper_given_caught']:.4f}",
                            f"{bound['total_upper_worst_case']:.2f}"]])]
    story += [Paragraph("Inserts", head)]
    released = report["state"] in ("RELEASED", "COMPLETE")
    if report.get("inserter_reached") and not released:
        story += [Paragraph("Simulated inserter only: nothing was released, so no insert was used; the counts are "
                            "what this run would use.", body)]
    if report.get("inserter_reached"):
        used = "consumed" if released else "would use"
        story += [table([["hopper", "code", "title", "inventory", used, "left"]]
                        + [[i["hopper"], i["code"], i["title"], i["inventory"], i["consumed"], i["left"]]
                           for i in report["inserts"]])]
    else:
        story += [Paragraph("The run did not reach the inserter: no insert was used.", body)]
    if released and report.get("inserter_loop"):
        from stmtprod.inserting.fates import check_lines

        story += [Paragraph("Inserter loop: every piece's fate", head)]
        story += [Paragraph(escape(line.strip()), body) for line in check_lines(report["inserter_loop"])]
    story += [
              Paragraph("Timings (seconds)", head),
              table([["step", "seconds"]] + [[k, v] for k, v in report["timings"].items()]),
              Spacer(1, 4 * mm)]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                      bottomMargin=15 * mm, title=f"Run report {report['run_id']}").build(story)
    return buffer.getvalue()


def _challenges(entry: dict | None, head: ParagraphStyle, body: ParagraphStyle, table) -> list:
    """The night's challenge pieces (issue 16): each planted fault and the check that caught it."""
    if not entry:
        return []
    story = [Paragraph("Challenge pieces: known-bad pieces planted to prove the 100% checks (set aside, never "
                       "mailed)", head)]
    if entry.get("off"):
        return story + [Paragraph(escape(f"Switched off: {entry['off']}. The checks were not proven this run."), body)]
    story.append(Paragraph(f"{entry['caught']} of {entry['pieces']} caught by the check meant for them"
                           + (f"; {entry['not_checked']} not checked (check switched off)" if entry.get("not_checked")
                              else ""), body))
    return story + [table([["piece", "lot", "class", "fault planted", "outcome", "caught by", "halt it raised"]]
                          + [[r["sequence"], r["lot"], r["class"], Paragraph(escape(r["fault"]), body), r["outcome"],
                              r["caught_by"] or "-", Paragraph(escape(r["reason"] or "-"), body)]
                             for r in entry.get("list", [])])]


def _verdict_box(v: dict, font: str, body: ParagraphStyle) -> Table:
    """The report's first lines: can we mail tonight, why, the evidence, and the commands to run next."""
    colour = {"YES": "#d7f0d7", "NO": "#f8d4d4"}.get(v["decision"], "#fff1c4")
    big = ParagraphStyle("verdict", parent=body, fontSize=13, leading=17)
    mono = ParagraphStyle("mono", parent=body, fontName=_mono(), fontSize=7.5, leading=9.5)
    rows = [[Paragraph(f"Can we mail tonight? {escape(v['headline'])}", big)],
            [Paragraph(f"Why: {escape(v['why'])}", body)]]
    rows += [[Paragraph(f"• {escape(line)}", body)] for line in v["evidence"]]
    if v.get("fix"):
        rows.append([Paragraph(f"Fix: {escape(v['fix'])}", body)])
    if v["next"]:
        rows.append([Paragraph("Run next:", body)])
        rows += [[Paragraph(escape(command), mono)] for command in v["next"]]
    return Table(rows, colWidths=[180 * mm], hAlign="LEFT",
                 style=TableStyle([("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(colour)),
                                   ("BOX", (0, 0), (-1, -1), 0.8, colors.grey),
                                   ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))


def _mono() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "DejaVuSansMono" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSansMono", str(find_font("DejaVuSansMono.ttf"))))
    return "DejaVuSansMono"


def write_report(ledger: Ledger, run_id: str, run_dir: Path, summary: dict, catalog: Catalog) -> dict:
    report = build_report(ledger, run_id, run_dir, summary, catalog)
    write_json(run_dir / "report.json", report)
    write_bytes(run_dir / "report.pdf", render_pdf(report))
    return report
