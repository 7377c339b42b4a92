"""The Apache Kafka jars, copied once from Maven Central and re-fetched only when the pom changes."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import driftline
from driftline.broker.errors import KafkaJarsError
from driftline.config.environment import env_name, environment

__all__ = ["LIBS_ENV", "KafkaJars", "default_libs_dir", "default_pom", "pom_sha256"]

LIBS_ENV = env_name("kafka_libs")
STAMP_NAME = ".stamp"
_KAFKA_JAR_GLOB = "kafka_2.13-*.jar"


def default_libs_dir() -> Path:
    """``$DRIFTLINE_KAFKA_LIBS``, else ``.driftline/kafka/libs`` under the working directory."""
    return environment().kafka_libs or Path(".driftline/kafka/libs")


def default_pom() -> Path | None:
    """``infra/kafka/pom.xml`` of the checkout this package runs from, or ``None`` if absent."""
    pom = Path(driftline.__file__).resolve().parents[1] / "infra" / "kafka" / "pom.xml"
    return pom if pom.is_file() else None


class KafkaJars:
    """A directory of jars that runs ``kafka.Kafka``, kept in step with a Maven pom.

    The pom's sha256 is written to a stamp file (``.stamp``, the name the Makefile uses too) next to the jars after a
    successful copy. The jars count as current when the stamp matches the pom; without a pom (an
    installed package) any directory that holds the Kafka jar is used as it is.

    Parameters
    ----------
    libs_dir
        Directory that holds (or will hold) the jars.
    pom
        The pom that lists them, or ``None`` when there is none to fetch with.
    mvn
        The Maven executable.

    Examples
    --------
    >>> import tempfile
    >>> jars = KafkaJars(Path(tempfile.mkdtemp()) / "libs", pom=None)
    >>> jars.is_current()
    False
    >>> jars.classpath().endswith("/libs/*")
    True
    """

    def __init__(self, libs_dir: Path, pom: Path | None, mvn: str = "mvn") -> None:
        self.libs_dir = libs_dir
        self.pom = pom
        self.mvn = mvn

    @property
    def stamp_path(self) -> Path:
        """The file holding the sha256 of the pom the jars were copied from."""
        return self.libs_dir / STAMP_NAME

    def classpath(self) -> str:
        """A Java class path with every jar of the directory (``DIR/*``)."""
        return f"{self.libs_dir.resolve()}/*"

    def has_kafka_jar(self) -> bool:
        """Whether the directory holds ``kafka_2.13-*.jar``."""
        return self.libs_dir.is_dir() and any(self.libs_dir.glob(_KAFKA_JAR_GLOB))

    def is_current(self) -> bool:
        """Whether the jars are present and were copied from the pom as it is now."""
        if not self.has_kafka_jar():
            return False
        if self.pom is None:
            return True
        try:
            return self.stamp_path.read_text().strip() == pom_sha256(self.pom)
        except FileNotFoundError:
            return False

    def ensure(self) -> bool:
        """Fetch the jars unless they are current; return whether a fetch ran.

        Concurrent callers (parallel test sessions) serialise on a lock file next to the
        directory, and the copy lands in a temporary directory renamed into place, so nobody sees
        half a set of jars.
        """
        if self.is_current():
            return False
        self.libs_dir.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.libs_dir.parent / f".{self.libs_dir.name}.lock"
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.is_current():
                return False
            self._fetch()
        return True

    def _fetch(self) -> None:
        if self.pom is None:
            raise KafkaJarsError(
                f"no Kafka jars in {self.libs_dir} and no infra/kafka/pom.xml to fetch them with; "
                f"copy the jars there, point --libs / ${LIBS_ENV} at a directory that has them, "
                "or run from a driftline checkout"
            )
        mvn = shutil.which(self.mvn)
        if mvn is None:
            raise KafkaJarsError(
                f"no Kafka jars in {self.libs_dir} (or they predate {self.pom}) and Maven "
                f"({self.mvn!r}) is not on PATH; install Maven (apt-get install maven) or point "
                f"--libs / ${LIBS_ENV} at a directory with the jars"
            )
        staging = self.libs_dir.with_name(f"{self.libs_dir.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(self.pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging.resolve()}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(staging.glob(_KAFKA_JAR_GLOB)):
            shutil.rmtree(staging, ignore_errors=True)
            output = (result.stdout + result.stderr).strip().splitlines()[-30:]
            raise KafkaJarsError(
                f"Maven could not copy the Kafka jars of {self.pom} (exit {result.returncode}); "
                "check network access to Maven Central:\n" + "\n".join(output)
            )
        (staging / STAMP_NAME).write_text(pom_sha256(self.pom) + "\n")
        shutil.rmtree(self.libs_dir, ignore_errors=True)
        staging.rename(self.libs_dir)


def pom_sha256(pom: Path) -> str:
    """The sha256 hex digest of a pom file's bytes."""
    return hashlib.sha256(pom.read_bytes()).hexdigest()
