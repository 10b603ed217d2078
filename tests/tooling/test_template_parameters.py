"""template.yaml's parameters as `sam deploy --guided` shows them: the one only the local world
sets says so, and every parameter is in a group of the console's interface.

Source: AWS CloudFormation User Guide, "AWS::CloudFormation::Interface" (ParameterGroups and
their labels order and group the parameters the console, and SAM's guided deploy, ask for).
"""

from __future__ import annotations

from pathlib import Path

from ebb.local.template_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_configdir_says_it_is_for_the_local_world_only() -> None:
    template = load_template(ROOT / "template.yaml")
    config_dir = template["Parameters"]["ConfigDir"]
    assert config_dir["Default"] == "/opt/ebb-config"  # where EbbConfigLayer puts the configuration
    assert config_dir["Description"].startswith("Local world only: leave the default.")
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert {
        "Label": {"default": "Local world only (leave the default)"},
        "Parameters": ["ConfigDir"],
    } in groups


def test_every_parameter_is_in_one_group() -> None:
    template = load_template(ROOT / "template.yaml")
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])
