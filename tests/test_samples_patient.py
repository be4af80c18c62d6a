"""The 3D patient behind the chest samples (dicomteach/samples/patient.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from dicomteach.samples import patient as P
from dicomteach.samples import phantoms
from dicomteach.samples.patient import Tissue

PIXEL = 1.4
AXIS = ((np.arange(256) - 127.5) * PIXEL).astype(np.float32)


@pytest.fixture(scope="module")
def woman() -> P.Patient:
    return P.make_patient(0, sex="F")


@pytest.fixture(scope="module")
def slices(woman: P.Patient) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Two slabs: mid-chest (hila, heart) and the bases (liver dome, stomach)."""
    out = {}
    for name, z in (("hila", -40.0), ("bases", woman.dome_right - 25.0)):
        zs = np.array([z, z - 2.5], np.float32)
        out[name] = P.render(woman, zs, AXIS, AXIS)
    return out


def _median(slices, where: str, tissue: Tissue) -> float:
    hu, label = slices[where]
    values = hu[label == tissue]
    assert values.size > 30, f"{tissue.name} not found at the {where}"
    return float(np.median(values))


class TestMakePatient:
    def test_same_seed_gives_the_same_patient(self) -> None:
        a, b = P.make_patient(5), P.make_patient(5)
        assert a.habitus == b.habitus
        assert np.array_equal(a.tubes.p0, b.tubes.p0)
        assert np.array_equal(a.tubes.r1, b.tubes.r1)
        assert P.make_patient(6, tree=False).habitus != a.habitus

    def test_seeds_make_a_population(self) -> None:
        habitus = [P.make_patient(seed, tree=False).habitus for seed in range(12)]
        assert {h.sex for h in habitus} == {"F", "M"}
        assert max(h.size for h in habitus) - min(h.size for h in habitus) > 0.06
        assert max(h.fat_mm for h in habitus) - min(h.fat_mm for h in habitus) > 6.0

    def test_unknown_sex_is_refused(self) -> None:
        with pytest.raises(ValueError, match="Argument 'sex' must be 'F', 'M' or None, not 'X'"):
            P.make_patient(0, sex="X")


class TestHounsfieldUnits:
    @pytest.mark.parametrize(
        ("where", "tissue", "low", "high"),
        [
            ("hila", Tissue.FAT, -120, -80),
            ("hila", Tissue.MUSCLE, 30, 50),
            ("hila", Tissue.BLOOD, 35, 45),
            ("hila", Tissue.LUNG, -900, -800),
            ("hila", Tissue.AIRWAY, -1000, -950),
            ("hila", Tissue.CORTICAL_BONE, 700, 1500),
            ("hila", Tissue.MARROW, 200, 400),
            ("bases", Tissue.LIVER, 45, 65),
        ],
    )
    def test_each_tissue_lies_in_its_published_range(
        self, slices, where: str, tissue: Tissue, low: float, high: float
    ) -> None:
        assert low <= _median(slices, where, tissue) <= high

    def test_costal_cartilage_is_about_100_hu_on_any_grid(self, woman: P.Patient) -> None:
        cartilage = np.flatnonzero(woman.tubes.kind == P.CARTILAGE)[4]
        centre = 0.5 * (woman.tubes.p0[cartilage] + woman.tubes.p1[cartilage])
        fine = np.arange(-1.0, 1.01, 0.5, dtype=np.float32)
        hu, _ = P.render(woman, centre[2] + fine, centre[1] + fine, centre[0] + fine, slab=0.5)
        assert 80 < hu[2, 2, 2] < 130

    def test_edges_take_intermediate_values(self, slices) -> None:
        hu, label = slices["hila"]
        row = hu[0, 128]
        body = np.flatnonzero(label[0, 128] != Tissue.AIR)
        edge = row[body[0] - 1 : body[0] + 2]
        assert ((edge > -950) & (edge < -100)).any()  # skin against air, one pixel of mix


class TestAnatomy:
    def test_a_woman_has_breasts_and_a_man_none(self) -> None:
        zs = np.array([-70.0, -72.5], np.float32)
        counts = {}
        for sex in ("F", "M"):
            p = P.make_patient(1, sex=sex, tree=False)
            _, label = P.render(p, zs, AXIS, AXIS)
            counts[sex] = int((label == Tissue.BREAST).sum())
        assert counts["F"] > 200
        assert counts["M"] == 0

    def test_mid_chest_holds_the_expected_organs(self, slices) -> None:
        _, label = slices["hila"]
        present = set(np.unique(label).tolist())
        for tissue in (
            Tissue.SKIN,
            Tissue.FAT,
            Tissue.MUSCLE,
            Tissue.LUNG,
            Tissue.AIRWAY,
            Tissue.BLOOD,
            Tissue.MYOCARDIUM,
            Tissue.OESOPHAGUS,
            Tissue.CORTICAL_BONE,
            Tissue.MARROW,
            Tissue.CSF,
            Tissue.CORD,
        ):
            assert tissue in present, tissue.name

    def test_above_the_lungs_the_neck_has_muscle_and_a_thyroid_beside_the_trachea(
        self, woman: P.Patient
    ) -> None:
        zs = np.array([woman.apex + 15.0, woman.apex + 12.5], np.float32)
        hu, label = P.render(woman, zs, AXIS, AXIS)
        inside = (label != Tissue.AIR) & (label != Tissue.SKIN)
        # not a ring of skin round a body of fat: the deep tissue is largely muscle
        muscle = (label == Tissue.MUSCLE).sum() / inside.sum()
        fat = (label == Tissue.FAT).sum() / inside.sum()
        assert muscle > 0.25 and fat < 0.6
        thyroid = label[0] == Tissue.THYROID
        trachea_x = AXIS[np.nonzero(label[0] == Tissue.AIRWAY)[1]].mean()
        columns = AXIS[np.nonzero(thyroid)[1]]
        assert (columns < trachea_x - 5).sum() > 20 and (columns > trachea_x + 5).sum() > 20
        # iodine: brighter than the muscle round it, as on a real unenhanced scan
        assert 80 < np.median(hu[0][thyroid]) < 130
        assert np.median(hu[0][thyroid]) > np.median(hu[0][label[0] == Tissue.MUSCLE]) + 30

    def test_bases_show_liver_under_the_right_lung_and_stomach_gas_on_the_left(
        self, slices
    ) -> None:
        _, label = slices["bases"]
        columns = np.nonzero(label[0] == Tissue.LIVER)[1]
        assert np.median(AXIS[columns]) < 0  # patient's right: negative x
        columns = np.nonzero(label[0] == Tissue.BOWEL_GAS)[1]
        assert columns.size and np.median(AXIS[columns]) > 0

    def test_oblique_fissure_is_a_thin_denser_line_in_the_lung(self, woman: P.Patient) -> None:
        z = np.arange(-60.0, 0.0, 0.2, dtype=np.float32)
        x, y = np.full_like(z, -90.0), np.full_like(z, 0.0)
        hu, label = P.tissue(woman, x, y, z)
        oblique, _ = woman.fissures(x, y, z)
        crossing = np.argmin(np.abs(oblique))
        assert label[crossing] == Tissue.LUNG
        assert hu[crossing] > np.median(hu[label == Tissue.LUNG]) + 150
        raised = np.flatnonzero(hu > np.median(hu[label == Tissue.LUNG]) + 75)
        # the run of raised samples round the crossing (the horizontal fissure lies higher)
        runs = np.split(raised, np.flatnonzero(np.diff(raised) > 1) + 1)
        band = next(run for run in runs if run.min() <= crossing <= run.max())
        assert (band.max() - band.min()) * 0.2 < 3.0  # thinner than 3 mm along z

    def test_lobes_split_right_into_three_and_left_into_two(self, woman: P.Patient) -> None:
        rng = np.random.default_rng(0)
        pts = rng.uniform(-150, 150, (20000, 3)) * (1, 0.7, 1) + (0, 0, -40)
        _, label = P.tissue(woman, pts[:, 0], pts[:, 1], pts[:, 2])
        lung = pts[label == Tissue.LUNG]
        lobes = woman.lobe(lung[:, 0], lung[:, 1], lung[:, 2])
        right, left = lobes[lung[:, 0] < 0], lobes[lung[:, 0] > 0]
        assert set(right.tolist()) == {0, 1, 2}
        assert set(left.tolist()) == {3, 4}
        share = np.bincount(right, minlength=3) / right.size
        assert share[1] < share[0] and share[1] < share[2]  # the middle lobe is the smallest


class TestBronchovascularTree:
    def test_radii_follow_murrays_law_and_taper_to_the_periphery(self, woman: P.Patient) -> None:
        for tree in woman.arteries + woman.veins:
            children = np.bincount(tree.parent[tree.parent >= 0], minlength=len(tree.parent))
            forks = np.flatnonzero(children >= 2)
            assert forks.size > 20
            for node in forks[:50]:
                kids = np.flatnonzero(tree.parent == node)
                assert tree.radius[node] ** 3 == pytest.approx((tree.radius[kids] ** 3).sum())
            assert tree.radius[0] > 1.8
            assert tree.radius.min() == pytest.approx(P.LEAF_RADIUS)

    def test_each_visible_bronchus_has_its_artery_beside_it(self, woman: P.Patient) -> None:
        airways = woman.tubes.kind == P.AIRWAY
        assert airways.sum() > 100
        for bronchi, artery in zip(woman.bronchi, woman.arteries, strict=True):
            # the two as drawn, three pieces per node along their curves
            _, ends, _, lumen = bronchi.curve(pieces=3)
            _, beside, _, radius = artery.curve(pieces=3)
            visible = lumen >= P.BRONCHUS_FROM * P.BRONCHOARTERIAL_RATIO
            assert visible.sum() > 10
            gap = np.linalg.norm(ends - beside, axis=1)
            outside = lumen + np.maximum(0.18 * lumen, 0.9)
            # never inside the bronchial wall, and touching it at every node: the pair
            assert (gap >= outside - 0.01)[visible].all()
            assert (gap <= outside + radius + 0.5)[2::3][visible[2::3]].all()

    def test_veins_run_apart_from_the_arteries(self, woman: P.Patient) -> None:
        arteries = np.concatenate([t.xyz for t in woman.arteries])
        for vein in woman.veins:
            leaves = np.setdiff1d(np.arange(len(vein.parent)), vein.parent)
            d = np.min(np.linalg.norm(vein.xyz[leaves][:, None] - arteries[None], axis=2), axis=1)
            assert np.median(d) > 3.0

    def test_trees_fill_their_own_lobe(self, woman: P.Patient) -> None:
        for number, tree in enumerate(woman.arteries):
            tips = tree.xyz[np.setdiff1d(np.arange(len(tree.parent)), tree.parent)]
            _, label = P.tissue(woman, tips[:, 0], tips[:, 1], tips[:, 2])
            in_lung = label == Tissue.LUNG
            assert in_lung.mean() > 0.8, P.LOBES[number]
            lobes = woman.lobe(tips[in_lung, 0], tips[in_lung, 1], tips[in_lung, 2])
            assert (lobes == number).mean() > 0.8, P.LOBES[number]

    def test_vessels_bend_without_corners(self, woman: P.Patient) -> None:
        for tree in woman.arteries + woman.veins:
            p0, p1, _, _ = tree.curve(pieces=3)
            drawn = _directions(p0, p1)
            s0, s1, _, _ = tree.segments()
            straight = _directions(s0, s1)
            # where a branch carries on through a node: its last piece and its main child's first
            child = np.flatnonzero(tree.parent >= 0)
            main = tree.main_child()
            row = np.full(len(tree.parent), -1)
            row[child] = np.arange(len(child))
            carried = child[main[child] >= 0]
            a, b = row[carried], row[main[carried]]
            curved = _turn(drawn[3 * a + 2], drawn[3 * b])
            cornered = _turn(straight[a], straight[b])
            assert np.median(curved) < 0.5 * np.median(cornered)
            within = _turn(drawn.reshape(-1, 3, 3)[:, :-1], drawn.reshape(-1, 3, 3)[:, 1:])
            assert np.median(within) < 6.0 and np.percentile(within, 95) < 30.0

    def test_each_lobe_artery_runs_on_from_its_main_pulmonary_artery(
        self, woman: P.Patient
    ) -> None:
        vessels = woman.tubes.kind == P.VESSEL
        ends = np.concatenate([woman.tubes.p0[vessels], woman.tubes.p1[vessels]])
        n = int(vessels.sum())
        # pieces that share an end are joined; follow them from the end of each main artery
        pairs = cKDTree(ends).query_pairs(0.01, output_type="ndarray")
        graph = np.concatenate([pairs % n, np.arange(n)[:, None].repeat(2, 1)])
        _, component = connected_components(
            coo_matrix((np.ones(len(graph)), graph.T), shape=(n, n)), directed=False
        )
        near = cKDTree(ends)
        for side, lobes in ((2, (0, 1, 2)), (3, (3, 4))):
            start = woman.great_vessels[side][0][-1]
            reached = component[near.query_ball_point(start, 0.01)[0] % n]
            for lobe in lobes:
                root = woman.arteries[lobe].xyz[0]
                assert reached in component[np.array(near.query_ball_point(root, 0.01)) % n]


def _directions(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    step = p1 - p0
    return step / np.linalg.norm(step, axis=-1, keepdims=True)


def _turn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (degrees) between unit directions."""
    return np.degrees(np.arccos(np.clip((a * b).sum(-1), -1.0, 1.0))).ravel()


def test_render_moves_the_patient_rigidly() -> None:
    p = P.make_patient(2, tree=False)
    zs = np.array([-30.0, -32.5], np.float32)
    still, _ = P.render(p, zs, AXIS, AXIS)
    moved, _ = P.render(p, zs, AXIS, AXIS, shift=np.array([3 * PIXEL, 0.0, 0.0]))
    assert np.allclose(moved[:, :, 3:], still[:, :, :-3], atol=1.0)
    turned, _ = P.render(p, zs, AXIS, AXIS, rotation=phantoms.rigid_motion(180.0, 0.0))
    # half a turn about the body axis (the grid is centred): left-right and front-back swap
    assert np.allclose(turned, still[:, ::-1, ::-1], atol=1.0)
