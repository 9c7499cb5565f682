"""What our operator, sensor and trigger modules add to the import of ``airflow.sdk``.

The DAG processor imports every DAG file again and again, so a provider's import cost is paid on
every parse. This times whole interpreter processes (start-up included, as the DAG processor's
subprocesses pay it), alternating the variants round by round so that drift on the machine hits
them all alike, and reports the median and the minimum of each, in CPU time (user + system, from
``wait4``: steady even on a busy machine) and in wall-clock time:

* ``baseline``: ``import airflow.sdk``;
* ``twelvelabs provider``: the same, then every operator, sensor and trigger module listed by
  ``get_provider_info()`` (modules not written yet are skipped and named);
* optional peers, measured in the same run: ``import twelvelabs`` (the official SDK) when it is
  installed, and the OpenAI provider's operator module when ``--openai-path`` names a directory
  holding it, e.g. after
  ``pip install --no-deps --target /tmp/bench-openai apache-airflow-providers-openai openai
  jiter httpx2 httpcore2 truststore``.

Then ``python -X importtime`` lists the modules our import pulls in beyond ``airflow.sdk``, the
most expensive first. Run it with the project's interpreter::

    python benchmarks/import_cost.py --runs 10
    python benchmarks/import_cost.py --runs 10 --openai-path /tmp/bench-openai --write-docs
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Import cost"
BASELINE = "import airflow.sdk"
OPENAI_MODULE = "airflow.providers.openai.operators.openai"


@dataclass
class Variant:
    """One timed command: ``import airflow.sdk`` then ``imports``, with an extra ``PYTHONPATH``."""

    name: str
    imports: str = ""
    pythonpath: str | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    #: CPU and wall seconds of ``imports`` alone, measured inside the process after airflow.sdk.
    marginal_cpu: list[float] = field(default_factory=list)
    marginal_wall: list[float] = field(default_factory=list)

    @property
    def code(self) -> str:
        """The program run by ``python -c``: it reports the cost of ``imports`` on its own."""
        return (
            "import time\n"
            f"{BASELINE}\n"
            "c, w = time.process_time(), time.perf_counter()\n"
            f"{self.imports}\n"
            "print('MARGINAL', time.process_time() - c, time.perf_counter() - w)\n"
        )


def our_modules() -> tuple[list[str], list[str]]:
    """Return (present, missing) operator, sensor and trigger modules listed in the provider info."""
    sys.path.insert(0, str(ROOT))
    from airflow_provider_twelvelabs.get_provider_info import get_provider_info

    info = get_provider_info()
    listed = [
        module
        for section in ("operators", "sensors", "triggers")
        for group in info.get(section, [])
        for module in group["python-modules"]
    ]
    present = [m for m in listed if importlib.util.find_spec(m) is not None]
    return present, [m for m in listed if m not in present]


def environment(pythonpath: str | None, airflow_home: str) -> dict[str, str]:
    env = dict(os.environ)
    env["AIRFLOW_HOME"] = airflow_home
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def run_once(variant: Variant, airflow_home: str) -> None:
    """Run the variant once and record its whole-process and marginal times."""
    env = environment(variant.pythonpath, airflow_home)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", variant.code], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    # wait4 gives the child's own CPU time: unlike the wall clock, it barely moves when other
    # work shares the machine, so it is the figure to trust on a busy host.
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, variant.code)
    _, marginal_cpu, marginal_wall = output.split()[-3:]
    variant.wall.append(wall)
    variant.cpu.append(usage.ru_utime + usage.ru_stime)
    variant.marginal_cpu.append(float(marginal_cpu))
    variant.marginal_wall.append(float(marginal_wall))


def importtime(code: str, airflow_home: str, pythonpath: str | None = None) -> list[tuple[int, int, str]]:
    """Return ``(self_us, cumulative_us, module)`` of every import done after ``airflow.sdk``."""
    env = environment(pythonpath, airflow_home)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    rows: list[tuple[int, int, str]] = []
    after_sdk = False
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if not match:
            continue
        self_us, cumulative_us, indent, module = match.groups()
        if after_sdk:
            rows.append((int(self_us), int(cumulative_us), ("  " * (len(indent) // 2)) + module))
        # importtime reports a module when it finishes: everything after the top-level
        # airflow.sdk line was imported by the code that follows it.
        if module == "airflow.sdk" and not indent:
            after_sdk = True
    return rows


def percent(value: float, base: float) -> str:
    return f"{100 * (value - base) / base:+.1f}%"


def measure(runs: int, openai_path: str | None) -> str:
    present, missing = our_modules()
    variants = [
        Variant("baseline: import airflow.sdk"),
        Variant(f"twelvelabs provider ({len(present)} modules)", "\n".join(f"import {m}" for m in present)),
    ]
    if importlib.util.find_spec("twelvelabs") is not None:
        variants.append(Variant("peer: import twelvelabs (official SDK)", "import twelvelabs"))
    if openai_path:
        variants.append(
            Variant(f"peer: OpenAI provider ({OPENAI_MODULE})", f"import {OPENAI_MODULE}", openai_path)
        )

    with tempfile.TemporaryDirectory(prefix="import-cost-") as airflow_home:
        for variant in variants:  # warm-up: page cache, .pyc files, airflow.cfg creation
            run_once(variant, airflow_home)
            variant.wall, variant.cpu, variant.marginal_cpu, variant.marginal_wall = [], [], [], []
        for _ in range(runs):
            for variant in variants:
                run_once(variant, airflow_home)
        # importtime measures wall time per import: keep each module's best of a few runs.
        best: dict[str, tuple[int, int, str]] = {}
        for _ in range(5):
            for row in importtime(variants[1].code, airflow_home):
                key = row[2].strip()
                if key not in best or row[1] < best[key][1]:
                    best[key] = row
        ours = list(best.values())

    base = variants[0]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    base_cpu = statistics.median(base.cpu)
    lines = [
        f"{runs} alternating runs of each command as a whole process; Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f} at the end.",
        "",
        "What each import costs on its own, timed inside the process once `airflow.sdk` is imported "
        "(what a DAG-file parse pays, `airflow.sdk` being loaded already), against the median CPU "
        "time of a whole `import airflow.sdk` process:",
        "",
        "| imports | CPU median | CPU min | wall median | share of `import airflow.sdk` (CPU medians) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for variant in variants[1:]:
        cpu_median = statistics.median(variant.marginal_cpu)
        wall_median = statistics.median(variant.marginal_wall)
        lines.append(
            f"| {variant.name} | {cpu_median * 1000:.1f} ms | {min(variant.marginal_cpu) * 1000:.1f} ms "
            f"| {wall_median * 1000:.1f} ms | {100 * cpu_median / base_cpu:+.1f}% |"
        )
    lines += ["", "Whole processes:", ""]
    for label, pick in (("CPU time (user + system)", "cpu"), ("wall clock", "wall")):
        lines += [
            f"{label}:",
            "",
            "| command | median | min | added to `import airflow.sdk` (median) | (min) |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        base_median, base_min = statistics.median(getattr(base, pick)), min(getattr(base, pick))
        for variant in variants:
            median, best = statistics.median(getattr(variant, pick)), min(getattr(variant, pick))
            added_median = "" if variant is base else percent(median, base_median)
            added_min = "" if variant is base else percent(best, base_min)
            times = f"{median * 1000:.0f} ms | {best * 1000:.0f} ms"
            lines.append(f"| {variant.name} | {times} | {added_median} | {added_min} |")
        lines.append("")
    lines += ["Modules measured: " + ", ".join(f"`{m}`" for m in present) + "."]
    if missing:
        lines.append("Not present yet, skipped: " + ", ".join(f"`{m}`" for m in missing) + ".")
    added_self = sum(row[0] for row in ours)
    ours_cpu = statistics.median(variants[1].marginal_cpu)
    verdict = "within" if ours_cpu <= 0.05 * base_cpu else "OVER"
    lines += [
        "",
        f"Verdict: our modules add {ours_cpu * 1000:.1f} ms of CPU ({100 * ours_cpu / base_cpu:.1f}%) to "
        f"`import airflow.sdk` ({base_cpu * 1000:.0f} ms): {verdict} the 5% target. Whole-process medians, "
        "noisier: "
        f"{percent(statistics.median(variants[1].cpu), base_cpu)} CPU, "
        f"{percent(statistics.median(variants[1].wall), statistics.median(base.wall))} wall.",
        "",
        f"`-X importtime` (best of 5 runs per module): {len(ours)} modules imported beyond `airflow.sdk`, "
        f"{added_self / 1000:.1f} ms of self time in all. The most expensive (cumulative, i.e. with what "
        "each pulls in):",
        "",
        "| cumulative | self | module |",
        "| ---: | ---: | --- |",
    ]
    for self_us, cumulative_us, module in sorted(ours, key=lambda r: -r[1])[:12]:
        lines.append(f"| {cumulative_us / 1000:.1f} ms | {self_us / 1000:.1f} ms | `{module.strip()}` |")
    return "\n".join(lines)


def write_section(body: str, command: str) -> None:
    """Replace (or add) the ``## Import cost`` section of docs/benchmarks.md, leaving the rest."""
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    section = (
        f"{SECTION}\n\n"
        "What importing our operator, sensor and trigger modules adds to `import airflow.sdk`, "
        "which the DAG processor pays on every parse of a DAG file. Target: at most +5%.\n\n"
        f"Command: `{command}`\n\n"
        "The OpenAI peer is installed beside the project, not into it: `pip install --no-deps --target "
        "DIR apache-airflow-providers-openai openai jiter httpx2 httpcore2 truststore`, then "
        "`--openai-path DIR`.\n\n"
        "How to read it: whole-process times move with whatever else runs on the machine (the load "
        "average is given), the wall clock most, the CPU time less; a single low baseline run can "
        "make the `min` column swing. The first table, timed inside each process after "
        "`import airflow.sdk`, is the steadiest figure, and the verdict is drawn from it.\n\n"
        f"{body}\n"
    )
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command (default 10)")
    parser.add_argument("--openai-path", help="a pip --target directory holding the OpenAI provider")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    body = measure(args.runs, args.openai_path)
    print(body)
    if args.write_docs:
        command = f"python benchmarks/import_cost.py --runs {args.runs}"
        if args.openai_path:
            command += " --openai-path DIR"
        write_section(body, command)


if __name__ == "__main__":
    main()
