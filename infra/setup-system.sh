#!/usr/bin/env bash
# Installs the Debian packages driftline's tests and local stack need, only when missing.
#   kcat           non-Python Kafka client used by the contract tests and README examples
#   redis-server   real Redis for the production-path feature-store tests
#   postgresql     real PostgreSQL for the registry / feature-store tests
#   docker-compose validates docker-compose.yml (`docker-compose config -q`); no engine needed
#   openjdk + maven run and fetch the local Kafka broker
#   chromium       the headless browser of the dashboard's browser test (driven by Playwright
#                  from PyPI with executable_path: Playwright's own browser download is not used)
set -euo pipefail

need=()
command -v kcat >/dev/null || need+=(kcat)
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v runuser >/dev/null || need+=(util-linux)
command -v chromium >/dev/null || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing Debian packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# the postgresql package starts a system cluster; the tests run their own on free ports
if [[ " ${need[*]} " == *" postgresql "* ]]; then
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
# the redis-server package may start a system service on 6379; the tests run their own
if [[ " ${need[*]} " == *" redis-server "* ]]; then
  $SUDO service redis-server stop >/dev/null 2>&1 || true
fi
