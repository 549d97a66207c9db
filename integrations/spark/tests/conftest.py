import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))


@pytest.fixture(scope="session")
def fanzha():
    """The release binary the job ships (`make test-spark` builds it first); FANZHA_BIN overrides."""
    path = os.environ.get("FANZHA_BIN") or os.path.join(REPO, ".build", "release", "fanzha")
    if not os.path.isfile(path):
        pytest.fail(f"{path} is missing: run `swift build -c release` first (make test-spark does)")
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def spark():
    """One local Spark for the whole suite: two cores, and up to 4 attempts per task (local[N]
    alone never retries a failed task)."""
    from pyspark.sql import SparkSession
    session = (SparkSession.builder.master("local[2,4]").appName("fanzha-tests")
               .config("spark.driver.bindAddress", "127.0.0.1")     # loopback only, whatever the host name resolves to
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.driver.memory", "1g")
               .config("spark.sql.session.timeZone", "UTC")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
