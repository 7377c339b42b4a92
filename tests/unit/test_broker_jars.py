"""Kafka jars: fetched once, re-fetched only when the pom's sha256 changes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from driftline.broker.errors import KafkaJarsError
from driftline.broker.jars import KafkaJars, default_pom, pom_sha256

# A stand-in for Maven: copies one fake Kafka jar into -DoutputDirectory and counts its calls.
FAKE_MVN = """#!/bin/sh
for arg in "$@"; do
  case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}" ;; esac
done
echo run >> "$(dirname "$0")/calls"
mkdir -p "$out" && touch "$out/kafka_2.13-4.1.1.jar" "$out/kafka-clients-4.1.1.jar"
"""


@pytest.fixture
def pom(tmp_path: Path) -> Path:
    path = tmp_path / "pom.xml"
    path.write_text("<project>1</project>")
    return path


@pytest.fixture
def mvn(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "mvn"
    path.parent.mkdir()
    path.write_text(FAKE_MVN)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def calls(mvn: Path) -> int:
    log = mvn.parent / "calls"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_fetch_once_then_again_only_when_the_pom_changes(
    tmp_path: Path, pom: Path, mvn: Path
) -> None:
    jars = KafkaJars(tmp_path / "libs", pom, mvn=str(mvn))
    assert not jars.is_current()
    assert jars.ensure() is True
    assert (tmp_path / "libs" / "kafka_2.13-4.1.1.jar").is_file()
    assert jars.stamp_path.read_text().strip() == pom_sha256(pom)
    assert jars.ensure() is False
    assert calls(mvn) == 1
    pom.write_text("<project>2</project>")
    assert not jars.is_current()
    assert jars.ensure() is True
    assert calls(mvn) == 2
    assert not list(tmp_path.glob("libs.tmp-*")), "staging directory left behind"


def test_jars_without_a_stamp_are_refetched_when_a_pom_exists(
    tmp_path: Path, pom: Path, mvn: Path
) -> None:
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "kafka_2.13-4.0.0.jar").touch()
    (libs / "stale.jar").touch()
    jars = KafkaJars(libs, pom, mvn=str(mvn))
    assert not jars.is_current()
    jars.ensure()
    assert not (libs / "stale.jar").exists()
    assert not (libs / "kafka_2.13-4.0.0.jar").exists()


def test_without_a_pom_present_jars_are_used_as_they_are(tmp_path: Path) -> None:
    libs = tmp_path / "libs"
    libs.mkdir()
    jars = KafkaJars(libs, pom=None)
    with pytest.raises(KafkaJarsError, match=r"no Kafka jars .* --libs"):
        jars.ensure()
    (libs / "kafka_2.13-4.1.1.jar").touch()
    assert jars.is_current()
    assert jars.ensure() is False


def test_missing_maven_is_a_clear_error(tmp_path: Path, pom: Path) -> None:
    jars = KafkaJars(tmp_path / "libs", pom, mvn="no-such-mvn-here")
    with pytest.raises(KafkaJarsError, match=r"Maven \('no-such-mvn-here'\) is not on PATH"):
        jars.ensure()


def test_failing_maven_reports_its_output(tmp_path: Path, pom: Path, mvn: Path) -> None:
    mvn.write_text("#!/bin/sh\necho 'Could not resolve dependencies' >&2\nexit 1\n")
    jars = KafkaJars(tmp_path / "libs", pom, mvn=str(mvn))
    with pytest.raises(KafkaJarsError, match="exit 1") as info:
        jars.ensure()
    assert "Could not resolve dependencies" in str(info.value)
    assert not (tmp_path / "libs").exists()


def test_the_checkouts_pom_is_found() -> None:
    pom = default_pom()
    assert pom is not None and pom.name == "pom.xml"
    assert "<artifactId>kafka_2.13</artifactId>" in pom.read_text()


def test_classpath_is_absolute_wildcard(tmp_path: Path) -> None:
    assert KafkaJars(tmp_path / "libs", None).classpath() == f"{tmp_path / 'libs'}/*"
