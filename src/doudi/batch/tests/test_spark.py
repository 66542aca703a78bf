"""The same job on PySpark (local mode) gives exactly the DuckDB hits and rejects."""

from __future__ import annotations

import shutil

import pytest

from doudi.batch.engines import SparkEngine
from doudi.batch.tests.helpers import AS_OF
from doudi.batch.tests.synthetic import make_dataset
from doudi.batch.verification import run_verification

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None:
        pytest.skip("PySpark needs Java")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("doudi-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_and_duckdb_give_identical_hits_rejects_and_counts_on_a_generated_dataset(spark, tmp_path):
    root = make_dataset(tmp_path, households=300)
    args = (root / "households.csv", root / "persons.csv", root / "sources")
    duck = run_verification(*args, as_of=AS_OF)
    sp = run_verification(*args, as_of=AS_OF, engine=SparkEngine(spark))
    assert all(duck.summary["hits_by_rule"].values()), duck.summary["hits_by_rule"]  # every rule fires
    order = [(c, "ascending") for c in duck.hits.column_names]
    assert sp.hits.sort_by(order).to_pylist() == duck.hits.sort_by(order).to_pylist()
    assert sp.rejects.to_pylist() == duck.rejects.to_pylist()
    for key in ("households", "persons", "flagged_households", "hits_by_rule", "rejects_by_source"):
        assert sp.summary[key] == duck.summary[key], key
