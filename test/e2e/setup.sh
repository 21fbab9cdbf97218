#!/usr/bin/env bash
# Prepares this machine for the e2e tests (see ../../../shared/notes/real-components.md):
#   - Debian packages: Docker engine, registry server, skopeo, pebble, certbot, lego, ...
#   - a Docker engine (dockerd started here if none answers; its pid in /tmp/cy-dockerd.pid)
#   - a `registry:2` image built from Debian's docker-registry binary (nothing can be pulled)
#   - the test host address 10.203.0.1 (veth in netns cy-test), outside 127.0.0.0/8, so
#     Docker really checks the registry's certificate
# Idempotent: a second run changes nothing and takes about a second. Any failure exits
# non-zero with a message saying what is missing (with CI=true as without).
# The docker client that works with this engine is written to /tmp/cy-docker-client.
set -Eeuo pipefail

readonly DOCKER_DATA_ROOT=/tmp/cy-docker
readonly DOCKERD_LOG=/tmp/cy-dockerd.log
readonly DOCKERD_PIDFILE=/tmp/cy-dockerd.pid
readonly CLIENT_FILE=/tmp/cy-docker-client
readonly DOCKERD_DEADLINE=${CY_DOCKERD_DEADLINE:-60}
readonly NETNS=cy-test VETH=cy-veth0 VETH_PEER=cy-veth1
readonly TEST_ADDR=10.203.0.1 TEST_CIDR=10.203.0.1/30
readonly E2E_LABEL=certyard-e2e=1

log() { echo "e2e setup: $*" >&2; }
die() {
  echo "e2e setup: FAILED: $*" >&2
  exit 1
}
trap 'rc=$?; echo "e2e setup: FAILED (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, dockerd, ip netns)"

# --- 1. Debian packages ---------------------------------------------------------------------
# podman, containerd (ctr), libnss3-tools and default-jre-headless read what `trust` writes.
# chromium: the dashboard's browser test drives Debian's build (playwright-core downloads none).
# postgresql (15) and haproxy: the CA's replicas on PostgreSQL behind a TCP load balancer; the
# tests start throwaway clusters of their own (test/helpers/postgres.ts), never the packaged one.
readonly PACKAGES=(docker.io docker-registry skopeo pebble certbot lego apache2-utils faketime
  iproute2 openssl jq curl caddy podman containerd libnss3-tools default-jre-headless
  postgresql haproxy chromium)
readonly PG_BIN=/usr/lib/postgresql/15/bin

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
has_candidate() {
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [[ -n $c && $c != "(none)" ]]
}

apt_updated=0
apt_update() {
  if ((apt_updated == 0)); then
    log "apt-get update"
    apt-get update -qq || die "apt-get update failed"
    apt_updated=1
  fi
}

# Packages must not start their services (docker.io would start dockerd with default flags).
tmp_policy=""
cleanup_policy() { [[ -n $tmp_policy ]] && rm -f /usr/sbin/policy-rc.d; tmp_policy=""; }
apt_install() {
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    tmp_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >/tmp/cy-apt.log 2>&1 || rc=$?
  cleanup_policy
  return "$rc"
}

missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]} > 0)); then
  apt_update
  log "installing ${missing[*]}"
  apt_install "${missing[@]}" || die "apt-get install ${missing[*]} failed: $(tail -5 /tmp/cy-apt.log)"
fi
# docker-compose is optional: installed when Debian has it.
if ! installed docker-compose; then
  # Without package lists (a fresh image) apt-cache knows nothing: update first.
  if ! has_candidate docker-compose && ((apt_updated == 0)) &&
    ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt_update
  fi
  if has_candidate docker-compose; then
    log "installing docker-compose"
    if ! apt_install docker-compose; then
      apt_update
      apt_install docker-compose || log "warning: docker-compose could not be installed (optional): $(tail -3 /tmp/cy-apt.log)"
    fi
  fi
fi
for cmd in dockerd docker-registry skopeo pebble pebble-challtestsrv certbot lego htpasswd \
  faketime ip openssl jq curl python3 caddy podman ctr certutil keytool haproxy chromium; do
  command -v "$cmd" >/dev/null || die "command '$cmd' not found after installing packages"
done
for cmd in initdb pg_ctl postgres psql; do
  [[ -x $PG_BIN/$cmd ]] || die "$PG_BIN/$cmd not found after installing postgresql (PostgreSQL 15 expected)"
done
id -u postgres >/dev/null 2>&1 || die "no user postgres after installing postgresql"

# --- 2. Docker engine -------------------------------------------------------------------------
# Candidates: whatever `docker` is on PATH (on these machines /usr/local/bin/docker, v28) and
# Debian's /usr/bin/docker (20.10, matches the engine).
candidates=()
for c in "$(command -v docker || true)" /usr/local/bin/docker /usr/bin/docker; do
  [[ -n $c && -x $c ]] || continue
  [[ " ${candidates[*]-} " == *" $c "* ]] || candidates+=("$c")
done
((${#candidates[@]} > 0)) || die "no docker client found (docker.io installs /usr/bin/docker)"

engine_up() { "${candidates[-1]}" info >/dev/null 2>&1 || "${candidates[0]}" info >/dev/null 2>&1; }

if ! engine_up; then
  # A pid file from an earlier run whose dockerd died is stale.
  rm -f "$DOCKERD_PIDFILE"
  log "starting dockerd (log $DOCKERD_LOG)"
  mkdir -p "$DOCKER_DATA_ROOT"
  setsid dockerd --iptables=false --ip-masq=false --bridge=none --storage-driver=vfs \
    --data-root "$DOCKER_DATA_ROOT" >"$DOCKERD_LOG" 2>&1 </dev/null &
  dockerd_pid=$!
  echo "$dockerd_pid" >"$DOCKERD_PIDFILE"
  deadline=$((SECONDS + DOCKERD_DEADLINE))
  until engine_up; do
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
      rm -f "$DOCKERD_PIDFILE"
      die "dockerd exited during start-up; last lines of $DOCKERD_LOG:
$(tail -20 "$DOCKERD_LOG")"
    fi
    if ((SECONDS >= deadline)); then
      kill -TERM "$dockerd_pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
      rm -f "$DOCKERD_PIDFILE"
      die "dockerd did not answer 'docker info' within ${DOCKERD_DEADLINE}s; last lines of $DOCKERD_LOG:
$(tail -20 "$DOCKERD_LOG")"
    fi
    sleep 0.3
  done
  log "dockerd up (pid $dockerd_pid)"
fi

# Pick the client: it must negotiate the API with this engine and do real work (list
# containers with a label filter, report the engine), not just print its own version.
client_works() {
  local c=$1
  "$c" version --format '{{.Server.Version}}' >/dev/null 2>&1 &&
    "$c" ps -a --filter "label=$E2E_LABEL" --format '{{.ID}}' >/dev/null 2>&1 &&
    "$c" info --format '{{.ServerVersion}}' >/dev/null 2>&1
}
DOCKER=""
for c in "${candidates[@]}"; do
  if client_works "$c"; then
    DOCKER=$c
    break
  fi
  log "docker client $c does not work with this engine: $("$c" version 2>&1 | grep -i -m1 -e error -e 'api' || true)"
done
[[ -n $DOCKER ]] || die "no docker client works with the running engine (tried ${candidates[*]})"
echo "$DOCKER" >"$CLIENT_FILE"
client_version=$("$DOCKER" version --format '{{.Client.Version}}')
server_version=$("$DOCKER" version --format '{{.Server.Version}}')

# The trust check only means something if 10.203.0.1 is not an insecure registry address.
insecure=$("$DOCKER" info --format '{{json .RegistryConfig.InsecureRegistryCIDRs}}')
covered=$(python3 - "$insecure" "$TEST_ADDR" <<'EOF'
import ipaddress, json, sys
addr = ipaddress.ip_address(sys.argv[2])
print(int(any(addr in ipaddress.ip_network(c, strict=False) for c in json.loads(sys.argv[1]) or [])))
EOF
)
[[ $covered == 0 ]] || die "the engine treats $TEST_ADDR as an insecure registry ($insecure): TLS would not be checked"

# --- 3. registry:2 image from Debian's docker-registry ------------------------------------------
build_registry_image() {
  local root bin=/usr/bin/docker-registry
  root=$(mktemp -d /tmp/cy-registry-image.XXXXXX)
  mkdir -p "$root"/bin "$root"/etc/docker/registry "$root"/var/lib/registry "$root"/tmp
  chmod 1777 "$root"/tmp
  cp "$bin" "$root"/bin/registry
  # Copy exactly the shared libraries ldd names (none if the binary is static).
  local ldd_out lib
  ldd_out=$(ldd "$bin" 2>&1 || true)
  if grep -q -e 'not a dynamic executable' -e 'statically linked' <<<"$ldd_out"; then
    log "docker-registry is static: no libraries copied"
  else
    while read -r lib; do
      [[ -n $lib ]] || continue
      [[ -e $lib ]] || die "ldd names $lib for $bin but it does not exist"
      cp --parents -L "$lib" "$root"/
    done < <(awk '/=>/ {print $3; next} $1 ~ /^\// {print $1}' <<<"$ldd_out")
    log "docker-registry libraries: $(awk '/=>/ {print $3; next} $1 ~ /^\// {print $1}' <<<"$ldd_out" | tr '\n' ' ')"
  fi
  cat >"$root"/etc/docker/registry/config.yml <<'EOF'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
  tar -C "$root" -c . | "$DOCKER" import \
    -c 'ENTRYPOINT ["/bin/registry","serve"]' \
    -c 'CMD ["/etc/docker/registry/config.yml"]' \
    -c 'EXPOSE 5000' -c 'VOLUME ["/var/lib/registry"]' \
    -m "registry:2 built by certyard test/e2e/setup.sh from Debian's docker-registry" \
    - registry:2 >/dev/null
  rm -rf "$root"

  # It must really serve the registry API.
  local name=cy-setup-registry-check port=5999
  "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true
  "$DOCKER" run -d --name "$name" --label "$E2E_LABEL" --network host \
    -e REGISTRY_HTTP_ADDR=127.0.0.1:$port registry:2 >/dev/null
  local deadline=$((SECONDS + 20)) ok=0
  while ((SECONDS < deadline)); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; then
      ok=1
      break
    fi
    sleep 0.2
  done
  local logs
  logs=$("$DOCKER" logs --tail 20 "$name" 2>&1 || true)
  "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true
  if ((ok == 0)); then
    "$DOCKER" rmi registry:2 >/dev/null 2>&1 || true
    die "the imported registry:2 did not answer http://127.0.0.1:$port/v2/; its log:
$logs"
  fi
  log "registry:2 built and answers /v2/"
}

if ! "$DOCKER" image inspect registry:2 >/dev/null 2>&1; then
  log "building registry:2 from /usr/bin/docker-registry"
  build_registry_image
fi
image_id=$("$DOCKER" image inspect --format '{{.Id}}' registry:2)
image_id=${image_id#sha256:}
image_id=${image_id:0:12}

# --- 4. the test host address ---------------------------------------------------------------
if ! ip netns list | grep -qw "^$NETNS"; then
  ip netns add "$NETNS" || die "ip netns add $NETNS failed (no CAP_SYS_ADMIN?)"
fi
if ! ip link show "$VETH" >/dev/null 2>&1; then
  ip link add "$VETH" type veth peer name "$VETH_PEER" || die "cannot create veth $VETH"
  ip link set "$VETH_PEER" netns "$NETNS"
fi
if ! ip -4 addr show dev "$VETH" | grep -q "inet $TEST_CIDR "; then
  ip addr add "$TEST_CIDR" dev "$VETH"
fi
ip link set "$VETH" up

# --- cheap sanity checks ------------------------------------------------------------------------
ip -4 route get "$TEST_ADDR" 2>/dev/null | grep -q '^local ' ||
  die "$TEST_ADDR is not a local address of this host"
# A closed port on the address must refuse at once (exit 7), not time out.
rc=0
curl -s -o /dev/null --max-time 3 "http://$TEST_ADDR:1/" || rc=$?
((rc == 7)) || die "$TEST_ADDR:1 did not refuse the connection (curl exit $rc)"
"$DOCKER" image inspect --format '{{json .Config.Entrypoint}}' registry:2 | grep -q '/bin/registry' ||
  die "registry:2 exists but is not the expected image (entrypoint $("$DOCKER" image inspect --format '{{json .Config.Entrypoint}}' registry:2))"

echo "e2e setup: ok (docker client $DOCKER $client_version, dockerd $server_version, registry:2 image $image_id, test address $TEST_ADDR, $("$PG_BIN"/postgres --version), $(haproxy -v | head -1 | cut -d' ' -f1-3))"
