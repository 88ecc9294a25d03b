# Sourced by bench scripts: a throwaway PostgreSQL server (Debian's postgresql package) on 127.0.0.1, in a temporary
# data directory, stopped and deleted when the script exits. Defines PG_URL (schema "bench") and pg_stop / pg_start.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2; exit 2; }
pg_root=$(mktemp -d /tmp/shrink-bench-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pg_as() { if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown nobody "$pg_root"
(cd /tmp && pg_as "$pg_bin/initdb" -D "$pg_root/data" -A trust -U shrink --no-sync -E UTF8 >/dev/null)
pg_start() { (cd /tmp && pg_as "$pg_bin/pg_ctl" -D "$pg_root/data" -l "$pg_root/log" -w -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_root -c max_connections=300" start >/dev/null); }
pg_stop() { (cd /tmp && pg_as "$pg_bin/pg_ctl" -D "$pg_root/data" -m immediate -w stop >/dev/null) || true; }
pg_cleanup() { pg_stop; rm -rf "$pg_root"; }
trap pg_cleanup EXIT
pg_start
PG_URL="postgresql://shrink@127.0.0.1:$pg_port/postgres"
