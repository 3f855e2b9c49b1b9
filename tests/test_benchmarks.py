"""The benchmark scripts run end to end in their --quick mode and write what they say."""

import importlib.util
import json
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_segmentation_benchmark_quick_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "segmentation.json"
    assert load("segmentation").main(["--quick", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["device"].startswith("cpu")
    assert report["mnist_scenes"]["epochs"] == 1
    for task in ("mnist_scenes", "isbi2012"):
        assert set(report[task]["models"]) == {"FCN-8s", "U-Net"}
        for row in report[task]["models"].values():
            assert 0 <= row["miou"] <= 1 and 0 <= row["pixel_accuracy"] <= 1
            assert row["parameters"] > 1000 and row["training_seconds"] > 0
            assert row["ms_per_image"] > 0
    unet = report["isbi2012"]["models"]["U-Net"]
    assert set(unet["dice"]) == {"membrane", "cell interior"}
    assert 0 <= unet["eight_views"]["pixel_accuracy"] <= 1
    recipes = report["isbi2012_recipes"]["recipes"]
    assert len(recipes) == 6 and recipes["twice the epochs"]["epochs"] == 2
    assert "U-Net weight map (w0 10, sigma 5 px)" in recipes
    assert recipes["width 16 (4x the parameters)"]["parameters"] > 3 * unet["parameters"]
    assert report["scene_generation"]["scenes_per_second"] > 0
    for figures_ in (unet, unet["eight_views"]):
        assert figures_["membrane_f1"] == unet_membrane_dice(figures_)
        assert 0 <= figures_["v_rand"] <= 1 and 0 <= figures_["v_info"] <= 1
    seeded = report["isbi2012_seeds"]     # one seed in --quick: the CI's time is short
    assert seeded["seeds"] == [0] and len(seeded["arms"]) == 3
    for arm in seeded["arms"].values():
        assert set(arm["seeds"]) == {"0"}
        for views in ("one_view", "eight_views"):
            for score in ("pixel_accuracy", "membrane_f1", "v_rand", "v_info"):
                value = arm["seeds"]["0"][views][score]
                assert 0 <= value <= 1
                assert arm[views][score] == {"mean": value, "min": value, "max": value}
    printed = capsys.readouterr().out
    assert "isbi2012 U-Net" in printed and str(out) in printed
    assert "ISBI 2012 U-Net, seeds [0]" in printed


def test_segmentation_spread_is_mean_min_max():
    spread = load("segmentation").spread
    assert spread([0.5, 0.25, 0.75]) == {"mean": 0.5, "min": 0.25, "max": 0.75}
    assert spread([0.12344, 0.12346]) == {"mean": 0.1235, "min": 0.12344, "max": 0.12346}


def unet_membrane_dice(figures_):
    return figures_["dice"]["membrane"]


def test_speed_benchmark_quick_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "speed.json"
    assert load("speed").main(["--quick", "--out", str(out), "--only", "MnistCNN"]) == 0
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["device"].startswith("cpu")
    assert report["complete"] is True
    assert report["threads"] >= 1 and report["torch"]
    assert len(report["timer_agreement"]) == 4
    for row in report["timer_agreement"]:
        assert row["ours_ms"] > 0 and row["torch_benchmark_ms"] > 0 and row["ratios"]
    (model,) = report["models"].values()
    assert model["parameters"] == 206_970 and model["gflops_per_image"] > 0
    names = [row["variant"] for row in model["variants"]]
    assert names[0] == "eager" and "channels_last" in names
    for row in model["variants"]:
        assert row["status"] == "ok" or row["status"].startswith("skipped")
    assert model["best"]["speedup"] >= 1
    assert "ratio" in capsys.readouterr().out


def test_classification_benchmark_quick_runs_all_three_recipes(capsys):
    """--quick: the classic example, chapter 3's MNIST and CIFAR-10 recipes, one epoch each
    on 2,000 images, tested on 2,000, and the loader comparison; nothing is written."""
    before = (ROOT / "benchmarks" / "results" / "classification-cpu.json").read_bytes()
    assert load("classification").main(["--quick"]) == 0
    printed = capsys.readouterr().out
    for name in ("MNIST, classic (PyTorch example)", "MNIST, chapter 3 recipe",
                 "CIFAR-10, chapter 3 recipe"):
        assert name in printed
    assert "final test accuracy, flip TTA" in printed
    assert "training speed-up, device loader / DataLoader" in printed
    assert (ROOT / "benchmarks" / "results" / "classification-cpu.json").read_bytes() == before


def test_seed_spread_reads_each_seed_and_its_mean_and_sd(monkeypatch):
    """Seeds 1.. are trained with their own seed; mean and sd (n - 1) over all seeds, a
    missing TTA figure left out rather than counted as 0."""
    classification = load("classification")
    accuracy = {0: 0.80, 1: 0.84, 2: 0.83}
    calls = []

    def fake_recipe(*recipe, seed=0, amp=None):
        calls.append((recipe, seed, amp))
        return {"seed": seed, "final test accuracy": accuracy[seed],
                "final test accuracy, flip TTA": None if seed == 2 else accuracy[seed] + 0.01,
                "training seconds in all": 10.0 + seed}, None

    monkeypatch.setattr(classification, "fast_recipe", fake_recipe)
    first = fake_recipe("name", seed=0)[0]
    calls.clear()
    summary = classification.seed_spread(first, ("name", "data"), 3, amp=True)
    assert [seed for _, seed, _ in calls] == [1, 2]
    assert all(recipe == ("name", "data") and amp is True for recipe, _, amp in calls)
    assert [row["seed"] for row in summary["runs"]] == [0, 1, 2]
    finals = list(accuracy.values())
    assert summary["final test accuracy, mean"] == pytest.approx(statistics.mean(finals))
    assert summary["final test accuracy, sd"] == pytest.approx(statistics.stdev(finals))
    assert summary["final test accuracy, flip TTA, mean"] == pytest.approx(0.83)
    assert summary["training seconds in all, sd"] == pytest.approx(1.0)


def test_classification_benchmark_quick_trains_extra_seeds(capsys):
    assert load("classification").main(["--quick", "--only", "cifar10", "--cifar-width", "4",
                                        "--cifar-seeds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "seeds, final test accuracy, mean" in printed
    assert "seeds, final test accuracy, sd" in printed
    assert "width: 4" in printed


def test_seed_spread_starts_no_seed_the_time_budget_cannot_hold(monkeypatch):
    """With 25 s left and seed 0 having taken 20 s, seed 1 starts; when seed 1 too took
    20 s, seed 2 does not (20 + 20 > 25), and the summary says 3 were asked for."""
    classification = load("classification")
    clock = [0.0]
    monkeypatch.setattr(classification.time, "perf_counter", lambda: clock[0])

    def fake_recipe(*recipe, seed=0, amp=None):
        clock[0] += 20.0
        return {"seed": seed, "final test accuracy": 0.9, "training seconds in all": 19.0}, None

    monkeypatch.setattr(classification, "fast_recipe", fake_recipe)
    first = {"seed": 0, "final test accuracy": 0.8, "training seconds in all": 19.0}
    summary = classification.seed_spread(first, (), 3, amp=False, seconds_left=25.0,
                                         first_wall_seconds=20.0)
    assert [row["seed"] for row in summary["runs"]] == [0, 1]
    assert summary["seeds asked for"] == 3
    unlimited = classification.seed_spread(first, (), 3, amp=False)
    assert [row["seed"] for row in unlimited["runs"]] == [0, 1, 2]


def test_speed_benchmark_measures_every_model_on_a_gpu_too():
    """The GPU order names each model once (a model missing from it would never be measured
    on a GPU), the real-time model first; the GPU variants include CUDA graphs."""
    speed = load("speed")
    assert sorted(speed.GPU_ORDER) == sorted(speed.MODELS)
    assert speed.GPU_ORDER[0] == speed.REAL_TIME_MODEL and speed.GPU_ONLY <= set(speed.MODELS)
    assert speed.NOT_COMPILED_ON_GPU <= set(speed.MODELS)
    gpu = speed.variants_for(__import__("torch").device("cuda"))
    assert "cudagraph" in gpu and "channels_last+fp16+cudagraph" in gpu
    for variant in gpu:
        speed.profiling._parse_variant(variant)          # each a valid name
