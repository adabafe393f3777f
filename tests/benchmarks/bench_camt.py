"""Benchmark: ``statements.parse`` on a generated camt.053 file vs lxml's bare iterparse.

Usage:
    python -m tests.benchmarks.bench_camt --entries 100000 [--statements 10] [--rounds 3]

Generates a camt.053.001.08 file (``--entries`` booked entries spread over
``--statements`` statements, each with references, a counterparty, remittance text and
a bank transaction code: tens of MB), then, each in a fresh subprocess so that peak RSS
is the run's own:

* ``parse``: ``statements.parse(data)`` (detection, streaming, money checks, records);
* ``floor``: lxml's ``iterparse`` over the same bytes doing nothing with the events
  (every element, ``end`` events), the library alone;
* ``floor+clear``: the same, clearing each ``Ntry`` after its end event (what any
  streaming reader must do at least to keep memory flat);
* ``read``: only imports and reads the file: the RSS every run starts from.

Runs them interleaved ``--rounds`` times and prints medians: entries/s, the ratio
parse/floor, the peak RSS of each process (``VmHWM``; the file's bytes are in memory in
all of them), and a cProfile of one parse (top functions by own time). Prints
numbers only; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
NAMES = ("Koffiebranderij De Boon B.V.", "Gulf Logistics W.L.L.", "Müller & Söhne GmbH")


def generate(entries: int, statement_count: int, seed: int = 7) -> bytes:
    """A camt.053.001.08 file whose every statement's chain holds."""
    rng = random.Random(seed)
    out = io.StringIO()
    out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS}">\n')
    out.write("<BkToCstmrStmt><GrpHdr><MsgId>BENCH</MsgId>")
    out.write("<CreDtTm>2026-12-01T06:00:00Z</CreDtTm></GrpHdr>\n")
    per = entries // statement_count
    number = 0
    for s in range(statement_count):
        count = per if s < statement_count - 1 else entries - per * (statement_count - 1)
        amounts = [Decimal(rng.randint(1, 2_000_000)).scaleb(-2) for _ in range(count)]
        signs = [rng.random() < 0.5 for _ in range(count)]
        opening = Decimal("100000.00")
        closing = opening + sum((a if c else -a for a, c in zip(amounts, signs, strict=True)))
        out.write(f"<Stmt><Id>BENCH-{s}</Id><ElctrncSeqNb>{s + 1}</ElctrncSeqNb>")
        out.write("<Acct><Id><IBAN>NL81ASNB9999999999</IBAN></Id><Ccy>EUR</Ccy></Acct>\n")
        for code, value in (("OPBD", opening), ("CLBD", closing)):
            ind = "CRDT" if value >= 0 else "DBIT"
            out.write(
                f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
                f'<Amt Ccy="EUR">{abs(value)}</Amt><CdtDbtInd>{ind}</CdtDbtInd>'
                "<Dt><Dt>2026-11-30</Dt></Dt></Bal>\n"
            )
        for amount, credit in zip(amounts, signs, strict=True):
            number += 1
            ind, role = ("CRDT", "Dbtr") if credit else ("DBIT", "Cdtr")
            name = NAMES[number % len(NAMES)].replace("&", "&amp;")
            out.write(
                f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>'
                "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-30</Dt></BookgDt>"
                f"<ValDt><Dt>2026-11-30</Dt></ValDt><AcctSvcrRef>BANK-{number:09d}</AcctSvcrRef>"
                "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd>"
                "</Fmly></Domn></BkTxCd><NtryDtls><TxDtls>"
                f"<Refs><InstrId>I-{number}</InstrId><EndToEndId>E2E-{number:09d}</EndToEndId></Refs>"
                f"<RltdPties><{role}><Pty><Nm>{name}</Nm></Pty></{role}>"
                f"<{role}Acct><Id><IBAN>DE02120300000000{number % 1000000:06d}</IBAN></Id>"
                f"</{role}Acct></RltdPties>"
                f"<RmtInf><Ustrd>Invoice {number}</Ustrd>"
                f"<Strd><CdtrRefInf><Ref>RF{number:012d}</Ref></CdtrRefInf></Strd></RmtInf>"
                "</TxDtls></NtryDtls>"
                f"<AddtlNtryInf>Payment {number}</AddtlNtryInf></Ntry>\n"
            )
        out.write("</Stmt>\n")
    out.write("</BkToCstmrStmt></Document>\n")
    return out.getvalue().encode("utf-8")


# The child processes: each reads the file, runs one job, prints seconds and peak RSS.
CHILD = r"""
import sys, time
from io import BytesIO
from pathlib import Path
job, path = sys.argv[1], sys.argv[2]
with open(path, "rb") as file:  # one read of the known size: no doubling buffer
    data = file.read(Path(path).stat().st_size)
if job == "read":
    from lxml import etree
    import statements
    seconds, count = 0.0, 0
elif job == "parse":
    import statements
    start = time.perf_counter()
    result = statements.parse(data)
    seconds = time.perf_counter() - start
    count = sum(len(s.lines) for s in result.statements)
    assert not result.problems, result.problems[:3]
else:
    from lxml import etree
    start = time.perf_counter()
    count = 0
    if job == "floor":
        for _event, _element in etree.iterparse(BytesIO(data)):
            pass
    else:
        for _event, element in etree.iterparse(BytesIO(data), tag="{*}Ntry"):
            element.clear()
            count += 1
    seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent,
# which holds the generated file; VmHWM is this program's own peak.
status = Path("/proc/self/status").read_text()
peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
print(seconds, peak_kb, count)
"""


def run_child(job: str, path: Path) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB, and entries counted, of one job in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, job, str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    seconds, rss_kb, count = done.stdout.split()
    return float(seconds), int(rss_kb) / 1024, int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--statements", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    data = generate(args.entries, args.statements)
    jobs = ("parse", "floor", "floor+clear", "read")
    times: dict[str, list[float]] = {job: [] for job in jobs}
    rss: dict[str, list[float]] = {job: [] for job in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.camt053.xml"
        path.write_bytes(data)
        print(
            f"file: {len(data) / 1e6:.1f} MB, {args.entries:,} entries, "
            f"{args.statements} statements"
        )
        for _ in range(args.rounds):
            for job in jobs:
                seconds, peak, count = run_child(job, path)
                times[job].append(seconds)
                rss[job].append(peak)
                if job == "parse":
                    assert count == args.entries, count
    parse_s = statistics.median(times["parse"])
    print(f"read only: peak RSS {max(rss['read']):.0f} MB (Python, lxml and the file's bytes)")
    for job in jobs[:3]:
        median = statistics.median(times[job])
        print(
            f"{job:12s} median {median:6.2f} s  {args.entries / median:10,.0f} entries/s  "
            f"peak RSS {max(rss[job]):6.0f} MB  (runs: "
            + ", ".join(f"{t:.2f}" for t in times[job])
            + ")"
        )
    for job in ("floor", "floor+clear"):
        print(
            f"ratio parse/{job}: {parse_s / statistics.median(times[job]):.2f}x the time "
            f"(parse runs at {statistics.median(times[job]) / parse_s:.0%} of its speed)"
        )

    import statements  # in this process only for the profile

    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    statements.parse(data)
    profile.disable()
    print(
        f"\ncProfile of one parse ({time.perf_counter() - start:.2f} s with profiling), "
        "top 15 by own time:"
    )
    pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
