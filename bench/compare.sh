#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md on this machine: builds filehub and
# the load tool, starts filehub and the baselines (each its own process, on
# loopback), runs each load 3 times interleaved across servers, and stops
# the servers it started (by their PIDs). Results go to stdout and to
# $OUT (default /tmp/filehub-bench). Takes about 20 minutes.
#
#   bash bench/compare.sh            # everything
#   bash bench/compare.sh fanout     # one part: fanout, plain, idle, rtt, http, wrk, fswatch
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/filehub-bench}
REPEAT=${REPEAT:-3}
mkdir -p "$OUT/data"
go build -o "$OUT/filehub" .
go build -o "$OUT/bench" ./bench
head -c 1024 /dev/urandom >"$OUT/data/1k.bin"
head -c $((10 << 20)) /dev/urandom >"$OUT/data/10m.bin"
echo "shared by the idle benchmark" >"$OUT/data/a.txt"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start NAME PORT CMD...: runs a server in the background and records its PID.
start() {
	local name=$1 port=$2
	shift 2
	"$@" >"$OUT/$name.log" 2>&1 &
	pids+=($!)
	eval "${name}_pid=$!"
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	echo "$name did not start" >&2
	exit 1
}
# -rate: the publisher sends thousands of messages a second from one
# session; -log-level warn: no access log line per request or join.
start filehub 18080 "$OUT/filehub" -addr 127.0.0.1:18080 -root "$OUT/data" -rate 1000000 -pprof -log-level warn
start melody 19001 "$OUT/bench" baseline -addr 127.0.0.1:19001
start gorilla 19002 "$OUT/bench" gorilla -addr 127.0.0.1:19002
start fileserver 19003 "$OUT/bench" fileserver -addr 127.0.0.1:19003 -root "$OUT/data"
fh="filehub=127.0.0.1:18080@$filehub_pid"
mel="melody=127.0.0.1:19001@$melody_pid"
gor="gorilla=127.0.0.1:19002@$gorilla_pid"
fs="fileserver=127.0.0.1:19003@$fileserver_pid"

{
	echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), kernel $(uname -r), $(go version)"
	echo "# load average before: $(cat /proc/loadavg)"
} | tee "$OUT/machine.txt"

# part NAME: whether to run NAME; first waits (up to $QUIET_WAIT seconds) for
# the 1-minute load average to fall under 1, as others may share the machine.
part() {
	[ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]] || return 1
	local waited=0
	while awk '{exit !($1 >= 1.0)}' /proc/loadavg && [ "$waited" -lt "${QUIET_WAIT:-600}" ]; do
		sleep 10
		waited=$((waited + 10))
	done
	echo "# $1: load average $(cut -d' ' -f1-3 /proc/loadavg) after waiting ${waited}s" | tee -a "$OUT/machine.txt"
}
ONLY="${*:-}"
B="$OUT/bench"
if part fanout; then
	$B sweep -target "$fh" -target "$gor" -target "$mel" -n 1000 -batch -rate 500 -factor 1.5 -duration 3s -refine 2 -repeat "$REPEAT" -json | tee "$OUT/fanout-batch.txt"
fi
if part plain; then
	$B sweep -target "$fh" -target "$mel" -n 1000 -rate 200 -factor 1.25 -duration 3s -refine 2 -repeat "$REPEAT" -json | tee "$OUT/fanout-plain.txt"
fi
if part idle; then
	$B idle -target "$fh" -target "$gor" -target "$mel" -n 10000 -join-rate 2000 -hold 5s -heap -share a.txt -repeat "$REPEAT" -json | tee "$OUT/idle.txt"
fi
if part rtt; then
	$B rtt -target "$fh" -count 5000 -get 1k.bin -repeat "$REPEAT" -json | tee "$OUT/rtt.txt"
fi
if part http; then
	for f in /1k.bin /10m.bin; do
		$B http -target "$fh" -target "$fs" -file "$f" -c 32 -duration 10s -repeat "$REPEAT" -json | tee -a "$OUT/http.txt"
	done
fi
if part wrk && command -v wrk >/dev/null; then
	for f in /1k.bin /10m.bin; do
		for i in $(seq "$REPEAT"); do
			for t in 18080 19003; do
				echo "wrk -t1 -c32 -d10s http://127.0.0.1:$t$f (run $i)"
				wrk -t1 -c32 -d10s "http://127.0.0.1:$t$f" | grep -E 'Requests/sec|Transfer/sec'
			done
		done
	done | tee "$OUT/wrk.txt"
fi
if part fswatch; then
	# A file's creation (by the tool, through the OS) to its fs frame: one
	# at a time, then all at once; then what watching a tree of 10,000
	# files costs filehub at start and in memory, watched, rescanned
	# (-watch-limit 1: every 3 s, 5 times while it settles) and unwatched.
	$B fswatch -target "$fh" -dir "$OUT/data" -n 300 -every 20ms -repeat "$REPEAT" -json | tee "$OUT/fswatch.txt"
	$B fswatch -target "$fh" -dir "$OUT/data" -n 300 -every 0 -repeat "$REPEAT" -json | tee -a "$OUT/fswatch.txt"
	[ -d "$OUT/tree" ] || $B fstree -dir "$OUT/tree" -folders 500 -files 20
	$B startup -bin "$OUT/filehub" -dir "$OUT/tree" -config watch= -config rescan=-watch-limit=1 -config nowatch=-watch=false \
		-settle 16s -repeat "$REPEAT" -json | tee "$OUT/startup.txt"
fi
echo "# load average after: $(cat /proc/loadavg)" | tee -a "$OUT/machine.txt"
