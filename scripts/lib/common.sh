# Shared by scripts/build, scripts/run and scripts/test. Source it; do not run it.

# Debian packages plugmq builds and runs with.
PLUGMQ_BUILD_PACKAGES=(build-essential cmake ninja-build pkg-config libboost1.81-dev libssl-dev
  nlohmann-json3-dev libsqlite3-dev libspdlog-dev libsystemd-dev prometheus-cpp-dev)
# What the tests need on top: GoogleTest and real MQTT clients.
PLUGMQ_TEST_PACKAGES=(libgtest-dev libgmock-dev mosquitto-clients python3-paho-mqtt
  python3-prometheus-client)
# A headless browser for the web console's tests (tests/e2e/test_console.py: Chromium driven by
# Selenium): scripts/test installs it, scripts/run (which configures the tests too) does not.
PLUGMQ_BROWSER_TEST_PACKAGES=(chromium chromium-driver python3-selenium)

# Installs the packages that are not installed yet; does nothing (quickly) when all are there.
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# MQTT.js, which tests/e2e/test_websocket.py runs over ws:// and wss:// (tests/e2e/js): Node.js
# and npm from Debian when there are none (a Node.js from elsewhere is used as it is), then the
# locked packages (npm ci) when they are not installed yet or the lock file changed since.
ensure_js_test_client() {
  command -v node >/dev/null || ensure_packages nodejs
  command -v npm >/dev/null || ensure_packages npm
  local dir=tests/e2e/js
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "installing the MQTT.js test client (npm ci in $dir)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Number of parallel build jobs: the core count.
build_jobs() { nproc 2>/dev/null || echo 2; }
