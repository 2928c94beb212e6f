"""Drift of recent inputs against a training profile: PSI, KS and chi-square, statuses, histograms."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from app.ml import drift

FEATURES = [{"name": "age", "kind": "float"}, {"name": "rooms", "kind": "integer"},
            {"name": "city", "kind": "categorical"}, {"name": "flag", "kind": "boolean"},
            {"name": "seen", "kind": "datetime"}]
CITIES = ["Paris", "Lyon", "Nice", "Lille"]


def frame(n: int, seed: int, *, age_shift: float = 0.0, city_p=(0.4, 0.3, 0.2, 0.1), missing_age: float = 0.05,
          new_city: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(40 + age_shift, 10, n)
    age[rng.random(n) < missing_age] = np.nan
    city = rng.choice(CITIES, n, p=list(city_p)).astype(object)
    city[rng.random(n) < new_city] = "Atlantis"
    city[rng.random(n) < 0.02] = None
    seen = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    return pd.DataFrame({"age": age, "rooms": rng.integers(1, 6, n), "city": city,
                         "flag": rng.random(n) < 0.3, "seen": seen})


@pytest.fixture(scope="module")
def profile() -> dict:
    return drift.reference_profile(frame(5000, seed=1), FEATURES)


def by_name(report) -> dict:
    return {f.name: f for f in report.features}


def test_profile_is_json_safe_with_quantile_bins(profile):
    assert json.loads(json.dumps(profile)) == profile
    age = profile["features"][0]
    assert age["type"] == "numeric" and len(age["edges"]) == 9
    assert age["counts"][-1] > 0  # missing values have their bin
    assert sum(age["counts"]) == 5000
    city = profile["features"][2]
    assert city["type"] == "categorical" and set(city["categories"]) == set(CITIES)
    assert city["counts"][-2] == 0 and city["counts"][-1] > 0  # no "other" in training; some missing


def test_same_distribution_is_ok(profile):
    report = drift.compare(profile, frame(2000, seed=2))
    assert report.status == "ok", [f.summary() for f in report.features]
    assert report.n_samples == 2000
    for feature in report.features:
        assert feature.psi < 0.1
        assert feature.p_value is not None and feature.p_value > 0.001
    tests = {f.name: f.test for f in report.features}
    assert tests == {"age": "ks", "rooms": "ks", "city": "chi2", "flag": "chi2", "seen": "ks"}


def test_shifted_numeric_feature_drifts_alone(profile):
    features = by_name(drift.compare(profile, frame(2000, seed=3, age_shift=15)))
    assert features["age"].status == "drift" and features["age"].psi > 0.2
    assert features["age"].p_value < 1e-6
    assert features["city"].status == "ok" and features["rooms"].status == "ok"


def test_categorical_shift_unseen_values_and_missing(profile):
    report = drift.compare(profile, frame(2000, seed=4, city_p=(0.1, 0.1, 0.1, 0.7), new_city=0.2))
    city = by_name(report)["city"]
    assert city.status == "drift" and city.test == "chi2" and city.p_value < 1e-6
    assert "other" in city.labels  # the unseen city is counted as other
    assert city.recent[city.labels.index("other")] > 0.15
    assert report.status == "drift"

    many_missing = drift.compare(profile, frame(2000, seed=5, missing_age=0.6))
    age = by_name(many_missing)["age"]
    assert age.status == "drift" and age.labels[-1] == "missing" and age.recent[-1] > 0.5


def test_moderate_shift_is_a_warning(profile):
    age = by_name(drift.compare(profile, frame(5000, seed=6, age_shift=3.5)))["age"]
    assert age.status == "warning" and 0.1 < age.psi <= 0.2


def test_fewer_than_100_rows_is_insufficient(profile):
    report = drift.compare(profile, frame(99, seed=7, age_shift=50))
    assert report.status == "insufficient_data" and report.features == [] and report.n_samples == 99
    assert drift.compare(profile, frame(100, seed=7)).status != "insufficient_data"


def test_histograms_for_charts(profile):
    feature = by_name(drift.compare(profile, frame(500, seed=8)))["age"]
    chart = feature.histogram()
    assert len(chart["labels"]) == len(chart["training"]) == len(chart["recent"]) == 11  # 10 bins + missing
    assert abs(sum(chart["training"]) - 1) < 1e-3 and abs(sum(chart["recent"]) - 1) < 1e-3
    assert set(feature.summary()) == {"name", "psi", "test", "p_value", "status"}


def test_prediction_inputs_compare_like_the_file():
    """Categories written as numbers or strings, and an absent column, compare without errors."""
    train = pd.DataFrame({"code": [1.0, 2.0, 3.0] * 100, "n": np.arange(300.0)})
    features = [{"name": "code", "kind": "categorical"}, {"name": "n", "kind": "float"}]
    profile = drift.reference_profile(train, features)
    assert profile["features"][0]["categories"] == ["1", "2", "3"]
    recent = pd.DataFrame({"code": ["1", 2, "3"] * 50, "n": [str(v) for v in range(150)]})
    code = by_name(drift.compare(profile, recent))["code"]
    assert code.psi < 0.01 and code.labels == ["1", "2", "3"]
    missing_column = by_name(drift.compare(profile, pd.DataFrame({"code": ["1"] * 150})))
    assert missing_column["n"].status == "drift"  # every value missing


def test_psi_properties():
    assert drift.psi([10, 20, 30], [10, 20, 30]) == pytest.approx(0, abs=1e-12)
    assert drift.psi([100, 0], [0, 100]) > 2  # finite, thanks to the epsilon
    assert drift.psi([50, 50, 0], [50, 50, 0]) == pytest.approx(0, abs=1e-12)  # both-empty bins ignored
    assert drift.psi_status(0.1) == "ok" and drift.psi_status(0.15) == "warning" and drift.psi_status(0.21) == "drift"
    assert drift.worst(["ok", "drift", "warning"]) == "drift"


def test_integer_bins_are_labelled_by_their_values():
    train = pd.DataFrame({"year": [2007, 2008, 2009, 2010] * 50})
    profile = drift.reference_profile(train, [{"name": "year", "kind": "integer"}])
    year = drift.compare(profile, pd.DataFrame({"year": [2009, 2010] * 60})).features[0]
    assert year.labels == ["≤ 2007", "2008", "2009", "2010"]  # "> 2010" is empty on both sides
    assert year.recent == [0.0, 0.0, 0.5, 0.5] and year.status == "drift"
