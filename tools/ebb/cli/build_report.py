"""`ebb build-report`: what `sam build` produced, and (with `--check`) whether the layer is right."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from ebb.cli.layer_inspection import (
    DEFAULT_BUDGET_BYTES,
    LayerReport,
    check_layer,
    inspect_layer,
    read_pins,
)


class _TemplateLoader(yaml.SafeLoader):
    """Reads a CloudFormation template, keeping intrinsic functions (`!Ref`, `!Sub`) as plain values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data (intrinsic functions reduced to their arguments)."""
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=_TemplateLoader)
    return loaded


def layer_targets(template: dict[str, Any], template_dir: Path) -> dict[str, tuple[str, str]]:
    """`logical id -> (architecture, python tag)` of each Python-package layer `sam build` builds.

    A Python-package layer is built by a `pythonX.Y` build method, or by a makefile from a
    directory with a `requirements.txt` (EbbLayer, `layers/ebb/Makefile`), for its first
    compatible runtime. The configuration layer's makefile build carries no Python packages.
    """
    targets = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::LayerVersion":
            continue
        metadata = resource.get("Metadata", {})
        properties = resource.get("Properties", {})
        method = str(metadata.get("BuildMethod", ""))
        if method.startswith("python"):
            runtime = method
        elif method == "makefile" and (template_dir / properties["ContentUri"] / "requirements.txt").exists():
            runtime = str(properties["CompatibleRuntimes"][0])
        else:
            continue
        architecture = {"arm64": "aarch64", "x86_64": "x86_64"}[metadata.get("BuildArchitecture", "x86_64")]
        targets[logical_id] = (architecture, "cp" + runtime.removeprefix("python").replace(".", ""))
    return targets


def _render(console: Console, template: dict[str, Any], layer_id: str, report: LayerReport) -> None:
    kinds = Counter(resource["Type"] for resource in template.get("Resources", {}).values())
    console.print(f"[bold]{template.get('Description', '').strip().splitlines()[0]}[/bold]")
    console.print("Resources: " + ", ".join(f"{count} x {kind}" for kind, count in sorted(kinds.items())))
    table = Table(title=f"Layer {layer_id}: {report.root}", show_lines=False)
    table.add_column("distribution")
    table.add_column("version")
    table.add_column("wheel")
    table.add_column("size", justify="right")
    for dist in sorted(report.distributions, key=lambda d: d.name.lower()):
        tag = dist.wheel_tags[0] if dist.wheel_tags else "?"
        table.add_row(dist.name, dist.version, tag, "")
    for top, size in sorted(report.size_by_top_level.items(), key=lambda item: -item[1])[:6]:
        table.add_row(f"[dim]{top}/[/dim]", "", "", f"{size / 2**20:.1f} MiB")
    console.print(table)
    console.print(f"ebb runtime parts: {', '.join(report.ebb_parts)}")
    machines = Counter(lib.machine for lib in report.native_libraries)
    console.print("native libraries: " + (", ".join(f"{n} x {m}" for m, n in machines.items()) or "none"))
    console.print(f"unzipped size: {report.size_bytes / 2**20:.1f} MiB")


def run(args: argparse.Namespace) -> int:
    """Print what the build contains; with `--check`, fail on any layer rule broken."""
    console = Console()
    template = load_template(args.template)
    layers = layer_targets(template, args.template.parent)
    if not layers:
        console.print(f"[red]{args.template}: no layer with a BuildMethod to inspect[/red]")
        return 1
    failures = 0
    for layer_id, (architecture, python_tag) in layers.items():
        source_dir = args.template.parent / template["Resources"][layer_id]["Properties"]["ContentUri"]
        try:
            report = inspect_layer(args.build_dir / layer_id / "python")
        except FileNotFoundError as error:
            console.print(f"[red]{error}[/red]")
            return 1
        _render(console, template, layer_id, report)
        if not args.check:
            continue
        problems = check_layer(
            report,
            read_pins(source_dir / "requirements.txt"),
            architecture=architecture,
            python_tag=python_tag,
            budget_bytes=int(args.budget_mib * 2**20),
        )
        for problem in problems:
            console.print(f"[red]layer {layer_id}: {problem}[/red]")
        if not problems:
            console.print(
                f"[green]layer {layer_id}: {architecture} / {python_tag} wheels only, pinned runtime "
                f"requirements only, no tools, within {args.budget_mib:.0f} MiB, unchecked-hash "
                f"{python_tag} bytecode for its {len(report.sources)} modules[/green]"
            )
        failures += len(problems)
    return 1 if failures else 0


def add_parser(subcommands: Any) -> None:
    """Register `ebb build-report`."""
    parser = subcommands.add_parser(
        "build-report",
        help="summarise what `sam build` produced; --check enforces the layer's rules",
        description=run.__doc__,
    )
    parser.add_argument(
        "--template", type=Path, default=Path("template.yaml"), help="the SAM template that was built"
    )
    parser.add_argument(
        "--build-dir", type=Path, default=Path(".aws-sam/build"), help="where `sam build` put its output"
    )
    parser.add_argument("--check", action="store_true", help="exit non-zero if the layer breaks a rule")
    parser.add_argument(
        "--budget-mib",
        type=float,
        default=DEFAULT_BUDGET_BYTES / 2**20,
        help="the layer's unzipped size budget in MiB",
    )
    parser.set_defaults(run=run)
