#!/usr/bin/env bash
# Undoes what the e2e tests and setup.sh leave behind:
#   - containers labelled certyard-e2e=1, and image tags for 10.203.0.1:*
#   - /etc/{docker,containers,containerd}/certs.d/10.203.0.1:* (what trust wrote) and saved logins for 10.203.0.1:* in ~/.docker/config.json
#   - the test address (veth cy-veth0 and netns cy-test)
#   - dockerd, only if setup.sh started it (pid in /tmp/cy-dockerd.pid)
# Keeps the Debian packages and the registry:2 image (in /tmp/cy-docker) for the next run.
# Safe to run more than once and when setup.sh never ran. Exits 1 if a step failed.
set -euo pipefail

readonly DOCKERD_PIDFILE=/tmp/cy-dockerd.pid
readonly CLIENT_FILE=/tmp/cy-docker-client
readonly NETNS=cy-test VETH=cy-veth0
readonly TEST_ADDR=10.203.0.1
readonly E2E_LABEL=certyard-e2e=1

failed=0
log() { echo "e2e teardown: $*" >&2; }
warn() {
  echo "e2e teardown: WARNING: $*" >&2
  failed=1
}

DOCKER=$(cat "$CLIENT_FILE" 2>/dev/null || true)
[[ -n $DOCKER && -x $DOCKER ]] || DOCKER=$(command -v docker || true)

engine_up=0
if [[ -n $DOCKER ]] && "$DOCKER" info >/dev/null 2>&1; then engine_up=1; fi

if ((engine_up)); then
  mapfile -t ids < <("$DOCKER" ps -aq --filter "label=$E2E_LABEL")
  if ((${#ids[@]} > 0)); then
    log "removing ${#ids[@]} container(s) labelled $E2E_LABEL"
    "$DOCKER" rm -f -v "${ids[@]}" >/dev/null || warn "could not remove containers ${ids[*]}"
  fi
  mapfile -t tags < <("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep -F "$TEST_ADDR:" | grep -v ':<none>$' || true)
  if ((${#tags[@]} > 0)); then
    "$DOCKER" rmi "${tags[@]}" >/dev/null || warn "could not remove image tags ${tags[*]}"
  fi
fi

shopt -s nullglob
for d in /etc/docker/certs.d/"$TEST_ADDR":* /etc/containers/certs.d/"$TEST_ADDR":* /etc/containerd/certs.d/"$TEST_ADDR":*; do
  rm -rf "$d" || warn "could not remove $d"
done
shopt -u nullglob

cfg=${DOCKER_CONFIG:-$HOME/.docker}/config.json
if [[ -f $cfg ]] && command -v jq >/dev/null; then
  if jq -e --arg p "$TEST_ADDR:" '(.auths // {}) | keys | any(startswith($p))' "$cfg" >/dev/null 2>&1; then
    tmp=$(mktemp "$cfg.XXXXXX")
    if jq --arg p "$TEST_ADDR:" '.auths |= with_entries(select(.key | startswith($p) | not))' "$cfg" >"$tmp"; then
      chmod 600 "$tmp" && mv "$tmp" "$cfg"
    else
      rm -f "$tmp"
      warn "could not remove logins for $TEST_ADDR from $cfg"
    fi
  fi
fi

# Deleting the namespace destroys cy-veth1 and with it its peer cy-veth0.
if ip netns list 2>/dev/null | grep -qw "^$NETNS"; then
  ip netns delete "$NETNS" || warn "could not delete netns $NETNS"
fi
if ip link show "$VETH" >/dev/null 2>&1; then
  ip link delete "$VETH" || warn "could not delete $VETH"
fi

if [[ -f $DOCKERD_PIDFILE ]]; then
  pid=$(cat "$DOCKERD_PIDFILE")
  if [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == dockerd ]]; then
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid" || true
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      warn "dockerd (pid $pid) did not stop within 30s; sending SIGKILL"
      kill -KILL "$pid" || true
    fi
  fi
  rm -f "$DOCKERD_PIDFILE"
fi

if ((failed)); then
  echo "e2e teardown: finished with warnings" >&2
  exit 1
fi
echo "e2e teardown: ok"
