"""Zone adjustment: immutable plans, edits, impact, undo, transition, store, compare, export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

import zoning
from zoning import simulate as sm
from zoning.errors import PlanConflict, ValidationError
from zoning.store import GeoPackageStore


@pytest.fixture(scope="module")
def base(small_demo):
    return sm.current_plan(small_demo, level="primary")


@pytest.fixture(scope="module")
def sim(small_demo):
    return sm.Simulator(small_demo, level="primary")


def _neighbour_pair(plan, sim):
    """A parcel with demand, in a single-school zone, and a touching single-school zone."""
    links = sim.links(plan)
    single = links.groupby("zone_id").filter(lambda g: len(g) == 1)
    school_of = single.set_index("zone_id")["school_id"]
    z = plan.zones
    for pid in plan.assignment.index[np.argsort(-sim.demand)]:
        frm = plan.assignment[pid]
        if frm not in school_of.index:
            continue
        for to in z.index[z.sindex.query(z.geometry.loc[frm], predicate="touches")]:
            if to in school_of.index and school_of[to] != school_of[frm]:
                return pid, frm, to, school_of[frm], school_of[to]
    raise AssertionError("no pair found")


def _tiles(dataset, plan):
    """The plan's zones still tile: no overlaps and no gaps in the district."""
    report = zoning.validate(sm.plan_dataset(dataset, plan).zones, district=dataset.district)
    kinds = set(report.problems["kind"]) if len(report.problems) else set()
    return not (kinds & {"overlap", "gap", "invalid_geometry"}), kinds


def test_moving_one_parcel_moves_exactly_its_demand(small_demo, base, sim):
    pid, frm, to, s_from, s_to = _neighbour_pair(base, sim)
    after = sm.move_parcels(base, [pid], to, small_demo.parcels, author="张工")
    assert after.parent_id == base.plan_id and after.changed == (pid,)
    assert base.assignment[pid] == frm  # the old plan did not change
    imp = sim.impact(base, after)
    d = sim.demand[sim.pos[pid]]
    p = small_demo.parcels.loc[pid]
    hh = p["households"] if p["households"] > 0 else p["planned_households"]  # being built
    assert imp.households_moved == hh > 0
    assert imp.moved.loc[pid, ["from_zone", "to_zone"]].tolist() == [frm, to]
    change = imp.schools["demand_after"] - imp.schools["demand_before"]
    assert set(imp.schools.index) == {s_from, s_to}
    assert change[s_from] == pytest.approx(-d) and change[s_to] == pytest.approx(d)
    # the incremental answer equals a full recompute of the new plan
    full = sm.Simulator(small_demo, level="primary").capacity(after)
    np.testing.assert_allclose(sim.capacity(after)["demand"], full["demand"])
    ok, kinds = _tiles(small_demo, after)
    assert ok, kinds


def test_undo_restores_every_statistic(small_demo, base, sim):
    pid, frm, to, s_from, s_to = _neighbour_pair(base, sim)
    after = sm.move_parcels(base, [pid], to, small_demo.parcels)
    forward, back = sim.impact(base, after), sim.impact(after, base)
    pd.testing.assert_series_equal(back.schools["demand_after"].sort_index(),
                                   forward.schools["demand_before"].sort_index(),
                                   check_names=False)
    assert back.distance["mean_after"] == pytest.approx(forward.distance["mean_before"])
    assert back.distance["p95_after"] == pytest.approx(forward.distance["p95_before"])
    fresh = sm.Simulator(small_demo, level="primary")
    pd.testing.assert_frame_equal(fresh.capacity(base), sim.capacity(base))


def test_move_polygon_selects_parcels_and_refuses_outside(small_demo, base, sim):
    pid, frm, to, *_ = _neighbour_pair(base, sim)
    pt = shapely.point_on_surface(small_demo.parcels.geometry.loc[pid])
    plan = sm.move_polygon(base, pt.buffer(5), to, small_demo.parcels)
    assert pid in plan.changed
    far = shapely.box(0, 0, 10, 10)  # nowhere near Chongqing in EPSG:4545
    with pytest.raises(ValidationError, match="outside the district"):
        sm.move_polygon(base, far, to, small_demo.parcels)
    with pytest.raises(ValidationError, match="not a primary zone"):
        sm.move_parcels(base, [pid], "NOPE", small_demo.parcels)
    with pytest.raises(ValidationError, match="not in the district"):
        sm.move_parcels(base, ["X1"], to, small_demo.parcels)


def test_redraw_zone_reassigns_by_overlap_and_still_tiles(small_demo, base, sim):
    pid, frm, to, *_ = _neighbour_pair(base, sim)
    grown = shapely.union(base.zones.geometry.loc[to],
                          shapely.buffer(small_demo.parcels.geometry.loc[pid], 30))
    plan = sm.redraw_zone(base, to, grown, small_demo.parcels)
    assert plan.assignment[pid] == to
    assert set(plan.changed) >= {pid}
    ok, kinds = _tiles(small_demo, plan)
    assert ok, kinds
    shrunk = shapely.buffer(base.zones.geometry.loc[to], -200)
    plan2 = sm.redraw_zone(base, to, shrunk, small_demo.parcels)
    ok, kinds = _tiles(small_demo, plan2)
    assert ok, kinds
    assert (plan2.assignment == to).sum() <= (base.assignment == to).sum()


def test_merge_split_attach(small_demo, base, sim):
    pid, frm, to, s_from, s_to = _neighbour_pair(base, sim)
    merged = sm.merge_zones(base, [frm, to], small_demo.parcels)
    assert to not in merged.zones.index
    assert set(merged.zones.at[frm, "school_ids"].split(";")) == {s_from, s_to}
    assert (merged.assignment == to).sum() == 0
    imp = sim.impact(base, merged)
    # 多校划片: the merged zone's demand is shared between the two schools by seats
    assert imp.schools["demand_after"].sum() == pytest.approx(imp.schools["demand_before"].sum())
    piece = shapely.buffer(small_demo.parcels.geometry.loc[pid], 40)
    split = sm.split_zone(base, frm, piece, "P-NEW", [s_to], small_demo.parcels)
    assert split.assignment[pid] == "P-NEW"
    ok, kinds = _tiles(small_demo, split)
    assert ok, kinds
    attached = sm.attach_school(base, frm, [s_to])
    imp = sim.impact(base, attached)
    assert imp.schools.loc[s_to, "demand_after"] > imp.schools.loc[s_to, "demand_before"]
    with pytest.raises(ValidationError, match="already exists"):
        sm.split_zone(base, frm, piece, to, [s_to], small_demo.parcels)


@pytest.fixture(params=["gpkg", "postgis"])
def plan_store(request, small_demo_path, tmp_path):
    """A store for plan versions, of each back end."""
    if request.param == "postgis":
        return request.getfixturevalue("pg_store")()
    import shutil

    path = tmp_path / "plans.gpkg"
    shutil.copy(small_demo_path, path)
    return GeoPackageStore(path)


def test_status_store_and_audit(small_demo, base, sim, plan_store):
    store = plan_store
    pid, frm, to, *_ = _neighbour_pair(base, sim)
    draft = sm.move_parcels(base, [pid], to, small_demo.parcels, author="张工", note="试调")
    sm.save_plan(store, base, actor="张工")
    sm.save_plan(store, draft, actor="张工")
    evaluated = sm.set_status(draft, "evaluated", actor="张工")
    sm.save_plan(store, evaluated, actor="张工")
    approved = sm.set_status(evaluated, "approved", actor="李科长")
    sm.save_plan(store, approved, actor="李科长")
    with pytest.raises(ValidationError, match="can only become published"):
        sm.set_status(approved, "draft", actor="x")
    # someone holding the stale "evaluated" copy cannot move it backwards or sideways
    with pytest.raises(ValidationError, match="approved in the store"):
        sm.save_plan(store, sm.set_status(draft, "evaluated", actor="王工"), actor="王工")
    back = sm.load_plan(store, draft.plan_id, crs=small_demo.crs)
    assert back.status == "approved" and back.parent_id == base.plan_id
    assert back.assignment.to_dict() == draft.assignment.dropna().to_dict()
    assert back.zones.geometry.geom_equals_exact(draft.zones.geometry, 1e-6).all()
    plans = sm.list_plans(store)
    assert set(plans["plan_id"]) == {base.plan_id, draft.plan_id}
    log = store.audit_log()
    actions = log[log["target"] == draft.plan_id]["action"].tolist()
    assert actions == ["plan_save", "plan_status", "plan_status"]
    assert "李科长" in set(log["actor"])
    with pytest.raises(ValidationError, match="no plan"):
        sm.load_plan(store, "nope")


def test_two_planners_over_the_same_version(small_demo, base, sim, plan_store):
    """Optimistic locking: the second save over the same version is refused, nothing lost."""
    store = plan_store
    pid, frm, to, *_ = _neighbour_pair(base, sim)
    sm.save_plan(store, base, actor="张工")
    mine = sm.move_parcels(base, [pid], to, small_demo.parcels, author="张工")
    theirs = sm.attach_school(base, frm, [base.zones.at[to, "school_ids"]], author="王工")
    sm.save_plan(store, mine, actor="张工")
    with pytest.raises(PlanConflict) as err:
        sm.save_plan(store, theirs, actor="王工")
    msg = str(err.value)
    assert mine.plan_id in msg and "张工" in msg and "本次未保存" in msg
    assert set(sm.list_plans(store)["plan_id"]) == {base.plan_id, mine.plan_id}
    # 王工 reloads the newer version and makes the edit again: accepted
    again = sm.attach_school(sm.load_plan(store, mine.plan_id, crs=small_demo.crs), frm,
                             [base.zones.at[to, "school_ids"]], author="王工")
    sm.save_plan(store, again, actor="王工")
    # a later edit of one's own saved version needs no reload; an alternative may branch off
    sm.save_plan(store, sm.attach_school(again, to, [base.zones.at[frm, "school_ids"]]),
                 actor="王工")
    sm.save_plan(store, theirs, actor="王工", branch=True)
    # a fresh proposal from the zones in force (nothing stored before it) is a line of its own
    fresh = sm.move_parcels(sm.current_plan(small_demo, level="primary"), [pid], to,
                            small_demo.parcels, author="李工")
    sm.save_plan(store, fresh, actor="李工")
    plans = sm.list_plans(store).set_index("plan_id")
    assert pd.isna(plans.loc[fresh.plan_id, "base_id"])
    assert plans.loc[again.plan_id, "base_id"] == mine.plan_id
    assert plans.loc[theirs.plan_id, "branch"] == 1
    assert store.verify_audit().ok


@pytest.mark.parametrize("racers", [2, 6])
def test_concurrent_approvals_exactly_one_wins(small_demo, base, sim, plan_store, racers):
    import threading

    store = plan_store
    pid, frm, to, *_ = _neighbour_pair(base, sim)
    draft = sm.move_parcels(base, [pid], to, small_demo.parcels)
    evaluated = sm.set_status(draft, "evaluated", actor="张工")
    sm.save_plan(store, evaluated, actor="张工")
    approved = sm.set_status(evaluated, "approved", actor="x")
    gate = threading.Barrier(racers)
    outcome = []

    def approve(i):
        gate.wait()
        try:
            sm.save_plan(store, approved, actor=f"审批人{i}")
            outcome.append("won")
        except PlanConflict as exc:
            outcome.append(str(exc))

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome.count("won") == 1, outcome
    assert all("already approved" in o for o in outcome if o != "won")
    log = store.audit_log()
    assert (log[log["target"] == draft.plan_id]["action"] == "plan_status").sum() == 1
    assert store.verify_audit().ok


def test_transition_by_hand(small_demo, base, sim):
    pid, frm, to, *_ = _neighbour_pair(base, sim)
    after = sm.move_parcels(base, [pid], to, small_demo.parcels)
    e = sim.demand[sim.pos[pid]]
    t = sim.transition(base, after, start_year=2027, sibling_share=0.3)
    assert list(t.index) == list(range(2027, 2034))
    # first year: 30 % follow an older sibling; five older cohorts stay at the old school
    assert t.loc[2027, "entrants_old_school"] == pytest.approx(0.3 * e)
    assert t.loc[2027, "pupils_old_school"] == pytest.approx(0.3 * e + 5 * e)
    assert t.loc[2027, "pupils_new_school"] == pytest.approx(0.7 * e)
    # settled: after 6 years nobody from the moved area starts at the old school
    assert t.loc[2033, "entrants_old_school"] == pytest.approx(0.0)
    assert t.loc[2033, "entrants_new_school"] == pytest.approx(e)
    with pytest.raises(ValidationError, match="sibling_share"):
        sim.transition(base, after, sibling_share=1.5)


def test_compare_diff_and_export(small_demo, base, sim, tmp_path):
    pid, frm, to, s_from, s_to = _neighbour_pair(base, sim)
    after = sm.move_parcels(base, [pid], to, small_demo.parcels)
    d = sm.diff(base, after, sim)
    assert d.index.tolist() == [pid] and d.loc[pid, "zone_b"] == to
    side = sm.compare(sim, base, after)
    assert side.loc[s_to, "demand_change"] == pytest.approx(sim.demand[sim.pos[pid]])
    s = side.attrs["summary"]
    assert s["parcels_differ"] == 1 and s["households_differ"] > 0
    geo = sm.export_plan(small_demo, after, tmp_path / "plan.geojson")
    back = zoning.io.read_layer(geo, "zones")
    assert len(back) == len(after.zones)
    text = sm.export_plan(small_demo, after, tmp_path / "plan.txt", text=True)
    body = text.read_text(encoding="utf-8")
    names = small_demo.schools.loc[[s_from, s_to], "name"]
    assert all(f"{n}:" in body for n in names)


def test_impact_summary_in_chinese(small_demo, base, sim):
    pid, frm, to, *_ = _neighbour_pair(base, sim)
    imp = sim.impact(base, sm.move_parcels(base, [pid], to, small_demo.parcels))
    text = imp.summary_zh()
    assert text.startswith("调整 1 宗地") and "平均上学直线距离" in text


def test_adopt_a_whole_assignment(small_demo, base, sim):
    from zoning.optimize import plan_zones

    pid, frm, to, s_from, s_to = _neighbour_pair(base, sim)
    assignment = base.assignment.copy()
    assignment[pid] = to
    zones = plan_zones(small_demo.zones, small_demo.parcels, assignment, level="primary",
                       current=base.assignment)
    after = sm.adopt(base, assignment, zones, author="优化", note="优化方案")
    assert after.parent_id == base.plan_id and after.changed == (pid,)
    assert set(after.changed_zones) == {frm, to}
    imp = sim.impact(base, after)
    by_move = sim.impact(base, sm.move_parcels(base, [pid], to, small_demo.parcels))
    pd.testing.assert_series_equal(imp.schools["demand_after"], by_move.schools["demand_after"])
    ok, kinds = _tiles(small_demo, after)
    assert ok, kinds
    bad = assignment.copy()
    bad[pid] = "P-999"
    with pytest.raises(ValidationError, match="P-999"):
        sm.adopt(base, bad, zones)


def test_edge_parcel_to_its_neighbour_keeps_both_zones_whole(small_demo, base, sim):
    """An edge parcel takes its ground up to the zone edge: neither zone falls into pieces."""
    from zoning.zones import voronoi_cells

    z = base.zones
    frm = base.assignment.value_counts().index[0]
    members = base.assignment.index[(base.assignment == frm).to_numpy()]
    pts = shapely.point_on_surface(small_demo.parcels.geometry.loc[members].to_numpy())
    cells = voronoi_cells(pts, z.geometry.loc[frm])
    neighbours = z.index[z.sindex.query(z.geometry.loc[frm], predicate="touches")]
    for pid, cell in zip(members, cells, strict=True):  # noqa: B007 - pid is used below
        touching = [n for n in neighbours if cell.intersection(z.geometry.loc[n]).length > 50]
        if touching:
            break
    else:
        raise AssertionError("no edge parcel")
    after = sm.move_parcels(base, [pid], touching[0], small_demo.parcels)
    imp = sim.impact(base, after)
    assert not imp.zones["non_contiguous"].any(), imp.zones
    assert (imp.zones["parts_after"] == 1).all()
    ok, kinds = _tiles(small_demo, after)
    assert ok, kinds


def test_locked_zone_cannot_lose_parcels(small_demo_path, small_demo, base, sim, tmp_path):
    pid, frm, to, _, _ = _neighbour_pair(base, sim)
    locked = sm.lock_zones(base, [frm], author="张工")
    assert locked.locked == (frm,) and locked.parent_id == base.plan_id
    assert locked.assignment.equals(base.assignment)
    with pytest.raises(ValidationError, match=frm) as err:
        sm.move_parcels(locked, [pid], to, small_demo.parcels)
    assert "已锁定" in err.value.problems[0]["message_zh"]
    with pytest.raises(ValidationError, match="locked"):
        sm.redraw_zone(locked, frm, small_demo.zones.geometry.loc[frm].buffer(-50),
                       small_demo.parcels)
    with pytest.raises(ValidationError, match="locked"):
        sm.merge_zones(locked, [to, frm], small_demo.parcels)
    # a locked zone may still gain; its children stay locked; unlocking allows the move again
    back = sm.move_parcels(locked, [pid], frm, small_demo.parcels)
    assert back.locked == (frm,)
    free = sm.lock_zones(locked, [frm], locked=False)
    moved = sm.move_parcels(free, [pid], to, small_demo.parcels)
    assert moved.assignment[pid] == to and moved.locked == ()
    # the lock survives the store
    import shutil

    shutil.copy(small_demo_path, tmp_path / "s.gpkg")
    store = GeoPackageStore(tmp_path / "s.gpkg")
    sm.save_plan(store, locked, actor="张工")
    assert sm.load_plan(store, locked.plan_id, crs=base.zones.crs).locked == (frm,)


def test_transition_by_school_year_by_year(small_demo, base, sim):
    from zoning.forecast import parcel_demand

    pid, frm, to, s_from, s_to = _neighbour_pair(base, sim)
    after = sm.move_parcels(base, [pid], to, small_demo.parcels)
    tr = sim.transition_schools(base, after, sibling_share=0.3)
    years = sorted(set(tr.index.get_level_values("year")))
    assert len(years) == 7 and years[0] == sim.year
    for k, year in enumerate(years):
        d = float(parcel_demand(small_demo, level="primary", year=year)[pid])
        sib = 0.3 * max(0.0, 1 - k / 6)
        t = tr.loc[year]
        # the moved parcel's entrants of that year move, less the siblings who stay
        assert t.loc[s_to, "demand_after"] - t.loc[s_to, "demand_before"] == pytest.approx(
            d * (1 - sib), abs=1e-9)
        assert t.loc[s_from, "demand_before"] - t.loc[s_from, "demand_after"] == pytest.approx(
            d * (1 - sib), abs=1e-9)
        assert t["demand_after"].sum() == pytest.approx(t["demand_before"].sum())
    with pytest.raises(ValidationError, match="sibling_share"):
        sim.transition_schools(base, after, sibling_share=1.5)
