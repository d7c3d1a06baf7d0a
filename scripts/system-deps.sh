#!/usr/bin/env bash
# Installs the system packages Tapewatch runs on, when they are missing: a JDK (Kafka broker),
# Maven (fetches the broker's jars once), PostgreSQL server binaries, docker-compose (only
# to validate docker-compose.yml in the tests), npm (the web dashboard's chart library) and
# Chromium (the browser test). Debian/Ubuntu; needs root or sudo for apt-get.
set -euo pipefail

need=()
command -v java >/dev/null || need+=(default-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need+=(postgresql)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v npm >/dev/null || need+=(npm)  # the web dashboard's chart library
command -v chromium >/dev/null || need+=(chromium)  # the browser test (driven by Playwright)
command -v python3.11 >/dev/null || need+=(python3.11 python3.11-venv)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
