"""Zones → published 划片 text → rules → cross-check against the map."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from zoning.address import parse_rule_list
from zoning.cli import app
from zoning.lookup import Resolver
from zoning.publish import zone_clauses, zone_text_list

runner = CliRunner()


@pytest.mark.parametrize("level", ["primary", "junior"])
def test_published_text_round_trips_to_the_map(small_demo, level):
    text = zone_text_list(small_demo, level=level)
    rules = parse_rule_list(text)
    assert rules and not [r for r in rules if r.kind == "unparsed"]
    report = Resolver(small_demo).cross_check(rules, level=level)
    assert len(report) == len(small_demo.addresses)
    assert (report["status"] == "agree").all(), report["status"].value_counts()


def test_clauses_use_published_forms(small_demo):
    c = zone_clauses(small_demo, level="primary")
    assert set(c["kind"]) <= {"road", "road_range", "village", "group"}
    ranges = c.loc[c["kind"] == "road_range", "clause"]
    assert ranges.str.contains("单号|双号").all()
    assert c["zone_id"].isin(small_demo.zones.index).all()


def test_moved_boundary_shows_as_disagreement(small_demo):
    """Publish today's text, then give one zone's addresses to another school on the map."""
    text = zone_text_list(small_demo, level="primary")
    zones = small_demo.zones.copy()
    prim = zones.index[zones["level"] == "primary"]
    zones.loc[prim[0], "school_ids"] = zones.at[prim[1], "school_ids"]
    moved = small_demo.with_layers(zones=zones)
    report = Resolver(moved).cross_check(parse_rule_list(text), level="primary")
    wrong = report[report["zone_id"] == prim[0]]
    assert len(wrong) and (wrong["status"] == "disagree").all()
    assert (report.loc[report["zone_id"] != prim[0], "status"] == "agree").all()


def test_lookup_cross_checks_against_rules(small_demo):
    text = zone_text_list(small_demo, level="primary")
    r = Resolver(small_demo, rules={"primary": parse_rule_list(text)})
    a = small_demo.addresses.iloc[7]
    res = r.lookup(address=a["address"])
    assert res.levels["primary"].rules_agree is True
    assert "一致" in res.levels["primary"].explanation_zh


def test_cli_publish_and_crosscheck(small_demo_path, tmp_path):
    out = tmp_path / "text.txt"
    res = runner.invoke(app, ["publish", "--data", str(small_demo_path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    ok = runner.invoke(app, ["crosscheck", "--data", str(small_demo_path), "--text", str(out),
                             "--json"])
    assert ok.exit_code == 0, ok.output
    assert set(json.loads(ok.output)["counts"]) == {"agree"}
    lines = out.read_text(encoding="utf-8").splitlines()
    out.write_text("\n".join(lines[1:]) + "\n甲小学: 某某路以西\n", encoding="utf-8")
    bad = runner.invoke(app, ["crosscheck", "--data", str(small_demo_path), "--text", str(out)])
    assert bad.exit_code == 1
    assert "文字未覆盖" in bad.output and "无法解析的条目" in bad.output
