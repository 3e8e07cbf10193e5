"""The loader refuses plain scalars that Terraform's yamldecode reads as booleans where Python would not.

Terraform reads YAML by 1.1 rules (a bare `N` is false), PyYAML only partly (`N` is "N"), so a manifest
that loads in Python could plan differently, or fail to plan, in Terraform. Every refusal names the
file, the field and the fix. test_terraform_yamldecode.py checks the token table against Terraform.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from devtools.manifest import (
    PORTABLE_BOOLEANS,
    REPO_ROOT,
    TERRAFORM_BOOLEANS,
    ManifestError,
    load_manifest,
    load_services,
    parse_yaml,
)

WEBHOOKS = REPO_ROOT / "services" / "webhooks"
# Booleans to Terraform only (YAML 1.1): PyYAML reads y/Y/n/N as strings, YAML 1.2 yes/no/on/off.
YAML11_BOOLEANS = sorted(set(TERRAFORM_BOOLEANS) - PORTABLE_BOOLEANS)
HOLE = "TOKEN_GOES_HERE"


def test_the_yaml_1_1_tokens_are_the_sixteen_we_expect():
    assert sorted(YAML11_BOOLEANS) == sorted(
        ["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"]
    )


@pytest.fixture
def services_dir(tmp_path: Path) -> Path:
    root = tmp_path / "services"
    shutil.copytree(WEBHOOKS, root / "webhooks", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    return root


def _write(services_dir: Path, change, token: str) -> Path:
    """The webhooks copy with `change` applied to its data, then HOLE replaced by `token` as written."""
    path = services_dir / "webhooks" / "service.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    text = yaml.safe_dump(data)
    assert text.count(HOLE) == 1
    path.write_text(text.replace(HOLE, token))
    return path


def _refused(path: Path) -> str:
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") or message.startswith("services/webhooks/service.yaml: "), message
    return message.split(": ", 1)[1]


def _description(data):
    data["functions"]["receive"]["description"] = HOLE


def _environment_key(data):
    data["functions"]["record_delivery"]["environment"] = {HOLE: "x"}


def _personal_data(data):
    data["contains_personal_data"] = HOLE


def _detail_filter(data):
    data["functions"]["record_delivery"]["trigger"]["detail_filter"] = {"data": {"provider": [HOLE]}}


@pytest.mark.parametrize("token", YAML11_BOOLEANS)
def test_a_yaml_1_1_boolean_where_a_string_is_wanted_is_refused(services_dir, token):
    path = _write(services_dir, _description, token)
    tf = "true" if TERRAFORM_BOOLEANS[token] else "false"
    assert _refused(path) == (
        f"functions.receive.description: {token} is read as the boolean {tf} by "
        f'Terraform\'s yamldecode (YAML 1.1); quote it: "{token}"'
    )
    _write(services_dir, _description, f'"{token}"')
    assert load_manifest(path).function("receive").description == token


@pytest.mark.parametrize("token", sorted(PORTABLE_BOOLEANS))
def test_true_or_false_where_a_string_is_wanted_is_refused(services_dir, token):
    path = _write(services_dir, _description, token)
    tf = "true" if TERRAFORM_BOOLEANS[token] else "false"
    assert _refused(path) == (
        f"functions.receive.description: {token} is read as the boolean {tf} by "
        f'Terraform\'s yamldecode and by PyYAML; quote it: "{token}"'
    )


@pytest.mark.parametrize("token", sorted(TERRAFORM_BOOLEANS))
def test_a_boolean_looking_key_is_refused(services_dir, token):
    path = _write(services_dir, _environment_key, token)
    tf = "true" if TERRAFORM_BOOLEANS[token] else "false"
    assert _refused(path) == (
        f"functions.record_delivery.environment.{token}: the key {token} is read as the boolean {tf} by "
        f'Terraform\'s yamldecode (YAML 1.1) and becomes "{tf}"; quote it: "{token}"'
    )


@pytest.mark.parametrize("token", YAML11_BOOLEANS)
def test_a_boolean_field_takes_only_true_or_false(services_dir, token):
    path = _write(services_dir, _personal_data, token)
    tf = "true" if TERRAFORM_BOOLEANS[token] else "false"
    other = "PyYAML" if token in ("y", "Y", "n", "N") else "YAML 1.2 readers (editors)"
    assert _refused(path) == (
        f"contains_personal_data: {token} is read as the boolean {tf} by Terraform's yamldecode (YAML 1.1) "
        f'but as the string "{token}" by {other}; write {tf}'
    )


@pytest.mark.parametrize("token", sorted(PORTABLE_BOOLEANS))
def test_true_and_false_load_as_booleans(services_dir, token):
    path = _write(services_dir, _personal_data, token)
    assert load_manifest(path).contains_personal_data is TERRAFORM_BOOLEANS[token]


@pytest.mark.parametrize("token", ["y", "on", "No"])
def test_free_form_data_needs_quotes_or_true_false(services_dir, token):
    path = _write(services_dir, _detail_filter, token)
    tf = "true" if TERRAFORM_BOOLEANS[token] else "false"
    assert _refused(path) == (
        f"functions.record_delivery.trigger.detail_filter.data.provider.0: {token} is read as the boolean {tf} "
        f'by Terraform\'s yamldecode (YAML 1.1); quote it: "{token}" (or write {tf} for the boolean)'
    )
    _write(services_dir, _detail_filter, tf)
    load_manifest(path)


@pytest.mark.parametrize("written", ['"N"', "'N'", "!!str N", "nO", "yEs", "Nope"])
def test_quoted_tagged_or_mixed_case_is_a_string_everywhere(services_dir, written):
    path = _write(services_dir, _description, written)
    _, plain_booleans = parse_yaml(path.read_text())
    assert "functions.receive.description" not in {p.field for p in plain_booleans}
    assert isinstance(load_manifest(path).function("receive").description, str)


def test_the_real_orders_manifest_with_type_n_unquoted_is_refused(tmp_path: Path):
    root = tmp_path / "services"
    shutil.copytree(REPO_ROOT / "services", root, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    manifest = root / "orders" / "service.yaml"
    text = manifest.read_text()
    assert 'range_key: {name: version, type: "N"}' in text
    manifest.write_text(text.replace('type: "N"', "type: N"))
    with pytest.raises(ManifestError) as err:
        load_services(root)
    assert str(err.value) == (
        f"{manifest}: resources.tables.events.range_key.type: N is read as the boolean false by "
        f'Terraform\'s yamldecode (YAML 1.1); quote it: "N"'
    )


def test_yaml_safe_dump_quotes_what_terraform_would_read_as_booleans():
    """Tests copy and edit manifests with yaml.safe_dump: the copies must stay readable by Terraform."""
    data = {"type": "N", "flags": ["y", "Y", "n", "yes", "off"], "N": "on", "yEs": "nO"}
    text = yaml.safe_dump(data)
    reread, plain_booleans = parse_yaml(text)
    assert reread == data
    assert plain_booleans == ()
    orders = yaml.safe_load((REPO_ROOT / "services" / "orders" / "service.yaml").read_text())
    assert "type: 'N'" in yaml.safe_dump(orders)
