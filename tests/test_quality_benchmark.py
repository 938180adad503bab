"""benchmarks/quality.py --quick: the document has both tables, every row, sane numbers."""

import importlib.util
import json
import re

import pytest

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
quality = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quality)


def table_rows(doc, section):
    """{first cell: [cells]} of the first markdown table after the heading `section`."""
    text = doc.split(section, 1)[1]
    rows, started = {}, False
    for line in text.splitlines():
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not set(cells[0]) <= {"-"}:
                rows[cells[0]] = cells[1:]
        elif started:
            break
    return rows


def number(cell):
    return float(re.match(r"-?[\d.,]+", cell).group(0).replace(",", ""))


def test_quick_toy_table(tmp_path, capsys):
    log = tmp_path / "runs.jsonl"
    quality.main(["--quick", "--only", "toy", "--log", str(log)])
    doc = capsys.readouterr().out
    assert "## MNIST" not in doc
    rows = table_rows(doc, "## Mode coverage on PacGAN's 2-D mixtures")
    header = rows.pop("Model")
    assert header[1:4] == ["ring8 modes (max 8)", "ring8 high quality", "ring8 reverse KL"]
    assert header[4:7] == ["grid25 modes (max 25)", "grid25 high quality", "grid25 reverse KL"]
    ours = {name: cells for name, cells in rows.items() if name.endswith("(ours)")}
    assert list(ours) == [f"{variant} (ours)" for variant in quality.VARIANTS]
    for name, cells in ours.items():
        assert cells[0] == "1", name  # one seed
        for modes, hq, kl, most in ((cells[1], cells[2], cells[3], 8), (cells[4], cells[5], cells[6], 25)):
            assert 0 <= number(modes) <= most and number(modes) == int(number(modes))
            assert hq.endswith(" %") and 0 <= number(hq) <= 100
            assert kl == "n/a" or 0 <= number(kl) <= 3.3  # at most log 25
    # PacGAN's published rows, as in its table.
    assert rows["PacGAN2 (PacGAN paper)"][1:3] == ["7.9 ± 0.1", "95.6 ± 2.0 %"]
    assert rows["PacGAN4 (PacGAN paper)"][4:6] == ["24.8 ± 0.2", "93.6 ± 0.6 %"]
    assert "iterations" in doc and "PARTIAL" not in doc

    # Every run was logged; resuming from the log trains nothing and prints the same table.
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 2 * len(quality.VARIANTS)
    assert {r["mixture"] for r in records} == {"ring8", "grid25"}
    quality.main(["--quick", "--only", "toy", "--log", str(log), "--resume"])
    captured = capsys.readouterr()
    assert f"resumed {len(records)} toy runs" in captured.err
    again = table_rows(captured.out, "## Mode coverage")
    assert {k: v[:-1] for k, v in again.items()} == {k: v[:-1] for k, v in table_rows(doc, "## Mode coverage").items()}


def test_mixtures_narrows_the_toy_runs_and_the_table_says_it_is_partial(tmp_path, capsys):
    log = tmp_path / "runs.jsonl"
    quality.main(["--quick", "--only", "toy", "--variants", "GAN", "--mixtures", "grid25", "--log", str(log)])
    doc = capsys.readouterr().out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["mixture"], r["variant"]) for r in records] == [("grid25", "GAN")]
    cells = table_rows(doc, "## Mode coverage")["GAN (ours)"]
    assert cells[1] == "n/a" and 0 <= number(cells[4]) <= 25
    assert "PARTIAL: 1 of the 2 runs" in doc


def test_the_budget_setup_has_its_own_section_and_log(tmp_path, capsys):
    budget = tmp_path / "budget.jsonl"
    args = ["--quick", "--only", "toy", "--variants", "GAN", "--mixtures", "grid25", "--budget-log", str(budget)]
    quality.main(args)
    doc = capsys.readouterr().out
    records = [json.loads(line) for line in budget.read_text().splitlines()]
    assert [(r["mixture"], r["variant"]) for r in records] == [("grid25", quality.BUDGET_VARIANT)]
    cells = table_rows(doc, "## PacGAN's figures at a CPU budget")[f"{quality.BUDGET_VARIANT} (ours)"]
    assert cells[1] == "n/a" and 0 <= number(cells[4]) <= 25
    section = doc.split("## PacGAN's figures at a CPU budget", 1)[1]
    assert "(PacGAN paper)" not in section  # the published rows stay in the main table
    # The budget log is always reused: a second invocation trains nothing more.
    quality.main(args)
    assert "resumed 1 toy runs" in capsys.readouterr().err
    assert len(budget.read_text().splitlines()) == 1


def test_the_budget_target_needs_both_figures_within_the_time():
    def run(mixture, seed, modes, hq, seconds=600.0):
        return {"mixture": mixture, "variant": quality.BUDGET_VARIANT, "seed": seed, "iterations": 24_000,
                "modes_captured": modes, "high_quality_percent": hq, "seconds": seconds}

    met = [run("ring8", 0, 8, 95.0), run("ring8", 1, 8, 91.0), run("grid25", 0, 25, 86.0), run("grid25", 1, 24, 80.0)]
    target, result, ok = quality.budget_target(met)
    assert "ring8 >= 8 modes with >= 90 % high quality" in target and "grid25 >= 24 modes with >= 80 %" in target
    assert result == (f"{quality.BUDGET_VARIANT} at 24,000 iterations, 2 seeds: ring8 8.0 modes, 93.0 %; "
                      "grid25 24.5 modes, 83.0 %; 0.33 h of runs / 2 cores")
    assert ok
    # grid25's high quality below 80 % on average, a mixture not run, or too long: not met.
    assert not quality.budget_target(met[:3] + [run("grid25", 1, 25, 70.0)])[2]
    assert not quality.budget_target(met[:2])[2]
    assert not quality.budget_target([dict(r, seconds=4 * 3600.0) for r in met])[2]


def _pick_generators():
    """One unconditional and one conditional shipped generator (loading each takes seconds)."""
    chosen = {}
    for name, path in quality.shipped_generators(ROOT / "saved_models"):
        card = quality._card(path.parent)
        chosen.setdefault(bool(card.get("num_classes")), name)
    return sorted(chosen.values())


@pytest.mark.skipif(not _pick_generators(), reason="no generator shipped in saved_models/ yet")
def test_quick_mnist_table(capsys):
    names = _pick_generators()
    # The committed 1,000-image test subset: runs without ../shared; it has no training
    # split, so the real row has no FID/KID floor.
    quality.main(["--quick", "--only", "mnist", "--mnist", str(ROOT / "tests" / "data" / "mnist"),
                  "--mnist-samples", "500", "--generators", *names])
    doc = capsys.readouterr().out
    assert "## Mode coverage" not in doc
    rows = table_rows(doc, "## MNIST")
    header = rows.pop("Samples")
    assert header == ["n", "MNIST FID ↓", "MNIST IS ↑", "KID ↓", "smallest / largest class", "label accuracy"]
    real = rows.pop("real MNIST (no training split: no FID/KID floor)")
    assert real[0] == "1,000" and real[1] == "—" and real[3] == "—"
    assert 8.0 < number(real[2]) <= 10.0  # real digits: confident and balanced
    low, high = (number(c.strip()) for c in real[4].split("/"))
    assert 5.0 < low <= 10.0 <= high < 15.0
    assert number(real[5]) > 95.0  # the classifier's accuracy on real digits
    assert [name.split(" ")[0] for name in rows] == names
    for name, cells in rows.items():
        conditional = bool(quality._card(ROOT / "saved_models" / name.split(" ")[0]).get("num_classes"))
        assert cells[0] == "500"
        assert number(cells[1]) >= 0 and 1.0 <= number(cells[2]) <= 10.0
        assert re.fullmatch(r"-?[\d.]+ ± [\d.]+", cells[3])
        if conditional:  # balanced by construction: label accuracy instead
            assert cells[4] == "—" and 0 <= number(cells[5]) <= 100
        else:
            low, high = (number(c.strip()) for c in cells[4].split("/"))
            assert 0 <= low <= 10.0 <= high <= 100 and cells[5] == "—"


def test_a_logged_run_stands_when_only_fields_its_variant_does_not_read_changed():
    wanted = json.loads(json.dumps(quality.dataclasses.asdict(quality.FULL)))
    older = {key: value for key, value in wanted.items() if not key.startswith("pacgan_")}
    assert quality._same_setup(wanted, wanted, "GAN, PacGAN's setup")
    assert quality._same_setup(older, wanted, "GAN")
    assert quality._same_setup(older, wanted, "PacGAN4 (GAN, pack 4)")
    # The PacGAN's-setup rows use the new fields: a run without them is not theirs.
    assert not quality._same_setup(older, wanted, "PacGAN2, PacGAN's setup")
    # A field the variant reads that differs or is missing, or one retired, voids the run.
    assert not quality._same_setup(dict(wanted, steps=wanted["steps"] + 1), wanted, "GAN")
    assert not quality._same_setup({k: v for k, v in older.items() if k != "lr"}, wanted, "GAN")
    assert not quality._same_setup(dict(wanted, retired_field=1), wanted, "GAN")
    # A field of another family's runs may change: WGAN-GP's learning rate is not the GAN's.
    assert quality._same_setup(dict(wanted, wgan_lr=wanted["wgan_lr"] / 2), wanted, "GAN")
    assert not quality._same_setup(dict(wanted, wgan_lr=wanted["wgan_lr"] / 2), wanted, "WGAN-GP")
    assert quality._same_setup(dict(wanted, lr=wanted["lr"] / 2), wanted, "GAN, PacGAN's setup")
    assert not quality._same_setup(dict(wanted, lr=wanted["lr"] / 2), wanted, "Unrolled GAN (K = 5)")


def test_a_partial_toy_table_shows_each_row_with_the_runs_it_has():
    variants = ["GAN", "WGAN-GP", "Unrolled GAN (K = 5)"]
    done = {"GAN": range(3), "WGAN-GP": range(1)}  # Unrolled GAN: no run yet

    def record(variant, mixture, seed):
        modes = 8 if mixture == "ring8" else 20 + seed
        return {"variant": variant, "mixture": mixture, "seed": seed, "modes_captured": modes,
                "high_quality_percent": 50.0, "reverse_kl": 0.1, "seconds": 1.0,
                "started_at": seed, "finished_at": seed + 1}

    records = [record(v, m, s) for v, seeds in done.items() for s in seeds for m in quality.MIXTURES]
    doc = quality.toy_table(records, variants, quality.QUICK, list(range(3)))
    rows = table_rows(doc, "| Model")
    assert rows["GAN (ours)"][:5] == ["3", "8.0 ± 0.0", "50.0 ± 0.0 %", "0.10 ± 0.00", "21.0 ± 0.6"]
    assert rows["WGAN-GP (ours)"][:5] == ["1", "8.0", "50.0 %", "0.10", "20.0"]
    assert rows["Unrolled GAN (K = 5) (ours)"][:2] == ["0", "n/a"]
    assert "PARTIAL: 8 of the 18 runs" in doc
    assert "WGAN-GP: ring8 0, grid25 0; Unrolled GAN (K = 5): ring8 none, grid25 none" in doc
    assert "GAN: ring8" not in doc.replace("WGAN-GP: ring8", "")


def test_busy_time_is_the_union_of_the_run_intervals():
    runs = [(0, 10), (5, 12), (100, 130), (110, 120)]  # two sittings, overlapping workers
    records = [{"started_at": a, "finished_at": b} for a, b in runs]
    assert quality._busy_seconds(records) == (12 - 0) + (130 - 100)
    assert quality._busy_seconds([]) == 0


def test_targets_table_says_which_targets_are_met():
    def run(mixture, variant, modes, hq):
        return {"mixture": mixture, "variant": variant, "modes_captured": modes, "high_quality_percent": hq}

    records = [run("ring8", "A", 8, 97.0), run("ring8", "A", 8, 96.0), run("ring8", "B", 7, 99.0),
               run("grid25", "A", 24, 95.0), run("grid25", "B", 25, 90.0)]
    real = {"name": "real", "inception_score": 9.6, "fid": 0.03, "label_accuracy": 0.992,
            "min_class_fraction": 0.09, "max_class_fraction": 0.11}
    cgan = {"name": "cgan", "inception_score": 9.2, "fid": 0.08, "label_accuracy": 0.96}
    dcgan = {"name": "dcgan", "inception_score": 6.0, "fid": 2.4, "min_class_fraction": 0.071, "max_class_fraction": 0.129}
    rows = table_rows("## Targets\n\n" + quality.targets_table([real, cgan, dcgan], records, ["A", "B"]), "## Targets")
    rows.pop("Target")
    assert rows["ring8: >= 8 modes with >= 96 % high quality (mean of the seeds)"] == ["A: 8.0 modes, 96.5 %", "yes"]
    # B covers the grid's modes but has too few high-quality samples.
    assert rows["grid25: >= 24.9 modes with >= 94 % high quality (mean of the seeds)"] == ["B: 25.0 modes, 90.0 %", "**no**"]
    assert rows["MNIST classifier accuracy on the real test split >= 99.0 %"] == ["99.20 %", "yes"]
    assert rows["best generator's MNIST IS within 0.5 of the real data's"] == ["cgan: 9.20 vs 9.60", "yes"]
    assert rows["best generator's MNIST FID within 3x the real-vs-real floor"] == ["cgan: 0.080 vs 3 x 0.030 = 0.090", "yes"]
    assert rows["cGAN label accuracy >= 98.5 %"] == ["cgan: 96.00 %", "**no**"]
    assert rows["every digit class between 7 % and 13 % of an unconditional generator's samples"][1] == "yes"


def test_zoo_targets_table_checks_each_generator_against_its_family():
    real = {"name": "real", "inception_score": 9.6, "fid": 0.03, "label_accuracy": 0.992,
            "min_class_fraction": 0.09, "max_class_fraction": 0.11}
    cgan = {"name": "cgan (v2, cgan)", "family": "cgan", "inception_score": 9.5, "fid": 0.095, "label_accuracy": 0.986}
    dcgan = {"name": "dcgan (v3, dcgan)", "family": "dcgan", "inception_score": 8.6, "fid": 1.2,
             "min_class_fraction": 0.071, "max_class_fraction": 0.129}
    wgan = {"name": "wgan (v5, wgan)", "family": "wgan", "inception_score": 5.0, "fid": 3.99,
            "min_class_fraction": 0.055, "max_class_fraction": 0.175}
    table = quality.zoo_targets_table([real, cgan, dcgan, wgan])
    lines = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    assert lines == [
        ["cgan (v2, cgan)", "FID <= 3 x the floor (0.090)", "0.095", "**no**"],
        ["cgan (v2, cgan)", "label accuracy >= 98.5 %", "98.60 %", "yes"],
        ["dcgan (v3, dcgan)", "FID <= 1", "1.200", "**no**"],
        ["dcgan (v3, dcgan)", "IS >= 8.5", "8.600", "yes"],
        ["dcgan (v3, dcgan)", "every digit between 7 % and 13 %", "7.1 % to 12.9 %", "yes"],
        ["wgan (v5, wgan)", "FID <= 4", "3.990", "yes"],
        ["wgan (v5, wgan)", "every digit between 7 % and 13 %", "5.5 % to 17.5 %", "**no**"],
    ]
    assert quality.zoo_targets_table([real]) == ""
