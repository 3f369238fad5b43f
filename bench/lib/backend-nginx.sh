# Sourced by bench/run.sh and bench/syscalls.sh: the backend HTTP server both measure the proxies against.
#
# backend_nginx_conf RUN PORT: writes $RUN/nginx-http.conf, an nginx on 127.0.0.1:PORT serving $RUN/www, one worker.
# multi_accept on: at a run's start a proxy may connect all its upstreams at once (512 with rr-c512); with nginx's
# default (one accept per pass of its loop) the last of them waited up to 1.5 s in its accept queue, and that, not the
# proxy, made the p99 (docs/benchmarks.md, "The 512-connection stall").
backend_nginx_conf() {
  local run=$1 port=$2
  mkdir -p "$run/www" "$run/nginx-http/logs"
  cat > "$run/nginx-http.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 20000;
pid $run/nginx-http/nginx.pid;
error_log $run/nginx-http/error.log warn;
events { worker_connections 10000; multi_accept on; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$port backlog=4096 reuseport;
    root $run/www;
    location / { }
  }
}
EOF
}
