#!/usr/bin/env bash
# Listings and search (BENCHMARKS.md, "Listings and search"): builds
# filehub (this tree) and, when BEFORE names a git revision, filehub at that
# revision; generates a folder of 10,000 files, one of 100,000 and a tree of
# 101,000 entries; starts filehub, nginx's autoindex (a generated config in
# the output folder) and Go's http.FileServer (bench fileserver) on
# loopback; runs wrk against each, interleaved, REPEAT times; and stops the
# servers it started, by their PIDs. Results on stdout and in $OUT.
#
#   bash bench/listing.sh                 # everything
#   BEFORE=3c0919f bash bench/listing.sh  # with filehub before the index
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/filehub-listing}
REPEAT=${REPEAT:-3}
DUR=${DUR:-8s}
mkdir -p "$OUT"
go build -o "$OUT/filehub" .
go build -o "$OUT/bench" ./bench
if [ -n "${BEFORE:-}" ]; then
	rm -rf "$OUT/before-src"
	git worktree add --detach "$OUT/before-src" "$BEFORE" >/dev/null
	(cd "$OUT/before-src" && go build -o "$OUT/filehub-before" .)
	git worktree remove --force "$OUT/before-src"
fi
python3 - "$OUT" <<'PY'
import os, sys
out = sys.argv[1]
def files(d, n, name):
    os.makedirs(d, exist_ok=True)
    if len(os.listdir(d)) == n: return
    for i in range(n):
        with open(os.path.join(d, name % i), "w") as f: f.write("x" * (i % 500))
files(f"{out}/data/big", 10000, "file-%05d-report.txt")
files(f"{out}/flat/flat", 100000, "f-%06d-data.bin")
words = ["report", "invoice", "photo", "résumé", "notes", "draft", "Budget", "plan", "scan", "music"]
if not os.path.isdir(f"{out}/tree"):
    for d in range(1000):
        dd = f"{out}/tree/{words[d%10]}-{d//10:03d}/sub-{d%7}"
        os.makedirs(dd, exist_ok=True)
        for i in range(99):
            open(f"{dd}/{words[(d+i)%10]}_{i:03d}-{d}.txt", "w").close()
PY

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# start NAME PORT CMD...: a server in the background, its PID recorded.
start() {
	local name=$1 port=$2
	shift 2
	"$@" >"$OUT/$name.log" 2>&1 &
	pids+=($!)
	eval "${name//-/_}_pid=$!"
	for _ in $(seq 300); do
		curl -s -o /dev/null "http://127.0.0.1:$port/_/healthz" && return 0
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	echo "$name did not start" >&2
	exit 1
}
mkdir -p "$OUT/nginx"
cat >"$OUT/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $OUT/nginx/body;
  proxy_temp_path $OUT/nginx/proxy;
  fastcgi_temp_path $OUT/nginx/fastcgi;
  uwsgi_temp_path $OUT/nginx/uwsgi;
  scgi_temp_path $OUT/nginx/scgi;
  server { listen 127.0.0.1:19180; root $OUT/data; location / { autoindex on; } }
}
NGINX
rss() { grep -E "^$2" "/proc/$1/status" | awk '{print $2}'; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## start-up, 101,000 entries (1,000 + 1,000 folders)"
for run in $(seq "$REPEAT"); do
	t0=$(date +%s%N)
	start tree 18190 "$OUT/filehub" -addr 127.0.0.1:18190 -root "$OUT/tree"
	t1=$(date +%s%N)
	echo "filehub: ready in $(((t1 - t0) / 1000000)) ms, RSS $(rss "$tree_pid" VmRSS) kB; $(grep -o 'took=[^ ]*' "$OUT/tree.log")"
	if [ "$run" -lt "$REPEAT" ]; then kill "$tree_pid"; wait "$tree_pid" 2>/dev/null || true; fi
done
if [ -n "${BEFORE:-}" ]; then
	t0=$(date +%s%N)
	start tree-before 18191 "$OUT/filehub-before" -addr 127.0.0.1:18191 -root "$OUT/tree"
	t1=$(date +%s%N)
	echo "before: ready in $(((t1 - t0) / 1000000)) ms, RSS $(rss "$tree_before_pid" VmRSS) kB"
	kill "$tree_before_pid"
fi

echo "## search, 101,000 entries, wrk -t2 -c4 -d$DUR --latency"
for run in $(seq "$REPEAT"); do
	for q in report resume 'budget+plan' notes_05 zzz 'sub-3/draft'; do
		echo "run $run q=$q: $(wrk -t2 -c4 -d"$DUR" --latency "http://127.0.0.1:18190/_/search?q=$q" |
			grep -E '^ +(50|99)%|Requests/sec' | tr -s ' ' | tr '\n' ' ')"
	done
done
echo "## search, one user typing: wrk -t1 -c1"
for q in r re rep repo report; do
	echo "q=$q: $(wrk -t1 -c1 -d3s --latency "http://127.0.0.1:18190/_/search?q=$q" | grep -E '^ +(50|99)%|Requests/sec' | tr -s ' ' | tr '\n' ' ')"
done
kill "$tree_pid"

echo "## listing of 10,000 files, HTML, wrk -t2 -c4 -d$DUR"
start filehub 18180 "$OUT/filehub" -addr 127.0.0.1:18180 -root "$OUT/data" -log-level warn
start nginx 19180 nginx -c "$OUT/nginx/nginx.conf" -p "$OUT/nginx"
start fileserver 19183 "$OUT/bench" fileserver -addr 127.0.0.1:19183 -root "$OUT/data"
targets="filehub=18180 nginx=19180 fileserver=19183"
if [ -n "${BEFORE:-}" ]; then
	start before 18181 "$OUT/filehub-before" -addr 127.0.0.1:18181 -root "$OUT/data" -log-level warn
	targets="$targets before=18181"
fi
for run in $(seq "$REPEAT"); do
	for t in $targets; do
		echo "run $run ${t%%=*}: $(wrk -t2 -c4 -d"$DUR" "http://127.0.0.1:${t##*=}/big/" | grep -E 'Requests/sec|Transfer' | tr -s ' ' | tr '\n' ' ')"
	done
done
echo "## listing of 10,000 files, JSON"
for run in $(seq "$REPEAT"); do
	for t in filehub=18180 ${BEFORE:+before=18181}; do
		echo "run $run ${t%%=*}: $(wrk -t2 -c4 -d"$DUR" -H 'Accept: application/json' "http://127.0.0.1:${t##*=}/big/" | grep -E 'Requests/sec' | tr -s ' ')"
	done
done

echo "## 40 JSON listings of 100,000 entries at once: peak RSS above idle"
for mode in index disk; do
	args=()
	[ "$mode" = disk ] && args=(-watch=false)
	start "flat-$mode" 18182 "$OUT/filehub" -addr 127.0.0.1:18182 -root "$OUT/flat" -log-level warn "${args[@]}"
	pid=$(eval echo "\$flat_${mode}_pid")
	idle=$(rss "$pid" VmRSS)
	echo 5 >"/proc/$pid/clear_refs" # resets VmHWM
	r=$(wrk -t2 -c40 -d10s --timeout 30s -H 'Accept: application/json' http://127.0.0.1:18182/flat/ | grep -E 'Requests/sec|Non-2xx' | tr -s ' ' | tr '\n' ' ')
	echo "$mode: idle $idle kB, peak $(rss "$pid" VmHWM) kB (+$((($(rss "$pid" VmHWM) - idle) / 1024)) MB); $r"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
done
if [ -n "${BEFORE:-}" ]; then
	start flat-before 18183 "$OUT/filehub-before" -addr 127.0.0.1:18183 -root "$OUT/flat" -log-level warn
	idle=$(rss "$flat_before_pid" VmRSS)
	echo 5 >"/proc/$flat_before_pid/clear_refs"
	r=$(wrk -t2 -c4 -d10s --timeout 30s -H 'Accept: application/json' http://127.0.0.1:18183/flat/ | grep -E 'Requests/sec' | tr -s ' ')
	echo "before, 4 at once (40 would take GBs): idle $idle kB, peak $(rss "$flat_before_pid" VmHWM) kB; $r"
fi
