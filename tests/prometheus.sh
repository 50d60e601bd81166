# Sourced by the tests that read vnumad's metrics as Prometheus does
# (after lib.sh): a real prometheus-node-exporter on 127.0.0.1 serving a
# textfile directory, and its /metrics parsed (tests/prom-samples.py).

free_port() {  # a TCP port free on 127.0.0.1 now
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

scrape() {  # scrape URL FILE: GET URL into FILE
  python3 -c 'import sys, urllib.request
open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=5).read())' "$1" "$2" 2>/dev/null
}

start_node_exporter() {  # start_node_exporter DIR LOG: sets ne_pid, ne_url; fails if it does not serve
  local port
  port=$(free_port)
  # Only the textfile collector: what this test reads, and nothing else
  # of the machine's to collect.
  prometheus-node-exporter --web.listen-address="127.0.0.1:$port" \
    --collector.disable-defaults --collector.textfile --collector.textfile.directory="$1" \
    >"$2" 2>&1 &
  ne_pid=$!
  ne_url=http://127.0.0.1:$port/metrics
  wait_for 15 scrape "$ne_url" /dev/null
}

stop_node_exporter() {
  [ -n "${ne_pid:-}" ] || return 0
  kill "$ne_pid" 2>/dev/null
  wait "$ne_pid" 2>/dev/null
  ne_pid=
}
