# test/lib.sh - shared by test/run, the test layers (test/checks/*), test/demo
# and test/bench: installs what the project needs, starts and stops a
# throwaway PostgreSQL and the OCP simulator, all on this machine only, and
# holds the layers' output convention (ocpb_checks).  Source it; it defines
# functions.

OCPB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OCPB_PG_BIN=""
OCPB_WORK=""
OCPB_SIM_PIDS=()
OCPB_SIM_URL=""
OCPB_PG_SOCKET=""
OCPB_PG_PORT=5432

# Throwaway credentials known to the simulator; never used anywhere else.
OCPB_TEST_ACCESS_KEY_ID=ocpb-test-ak
OCPB_TEST_ACCESS_SECRET=ocpb-test-sk-5f0c2a9e
OCPB_TEST_ACCESS_KEY="$OCPB_TEST_ACCESS_KEY_ID:$OCPB_TEST_ACCESS_SECRET"

# Debian packages the build and the tests use.
OCPB_PACKAGES="make gcc postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev
libcjson-dev libssl-dev curl python3 openssl"

ocpb_log() {
	printf '== %s\n' "$*" >&2
}

ocpb_install_packages() {
	local missing=() pkg
	for pkg in $OCPB_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
		return 1
	fi
	ocpb_log "installing ${missing[*]}"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

ocpb_build_and_install() {
	ocpb_log "building and installing ocp_backup"
	make -C "$OCPB_ROOT" -s -j2 >/dev/null
	make -C "$OCPB_ROOT" -s install >/dev/null
}

# A private working directory that the postgres user may use too.
ocpb_make_workdir() {
	OCPB_WORK=$(mktemp -d /tmp/ocp_backup.XXXXXX)
	chmod 0755 "$OCPB_WORK"
	trap ocpb_cleanup EXIT
	trap 'exit 130' INT TERM
}

ocpb_as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Starts a throwaway cluster listening on a Unix socket only.  Extra
# arguments are more postgresql.conf lines.
ocpb_start_postgres() {
	local line
	OCPB_PG_BIN=$(pg_config --bindir)
	OCPB_PG_SOCKET="$OCPB_WORK/pg"
	mkdir -p "$OCPB_PG_SOCKET"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$OCPB_PG_SOCKET"
	ocpb_as_postgres "$OCPB_PG_BIN/initdb" -D "$OCPB_PG_SOCKET/data" -U postgres \
		--encoding=UTF8 --locale=C.UTF-8 \
		--auth=trust --no-sync >"$OCPB_WORK/initdb.log" 2>&1
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$OCPB_PG_SOCKET'"
		echo "port = $OCPB_PG_PORT"
		echo "fsync = off"
		for line in "$@"; do echo "$line"; done
	} >>"$OCPB_PG_SOCKET/data/postgresql.conf"
	ocpb_as_postgres "$OCPB_PG_BIN/pg_ctl" -D "$OCPB_PG_SOCKET/data" \
		-l "$OCPB_PG_SOCKET/server.log" -w start >/dev/null || {
		cat "$OCPB_WORK/initdb.log" "$OCPB_PG_SOCKET/server.log" >&2 2>/dev/null
		return 1
	}
	export PGHOST="$OCPB_PG_SOCKET" PGPORT="$OCPB_PG_PORT" PGUSER=postgres
}

ocpb_stop_postgres() {
	[ -n "$OCPB_PG_SOCKET" ] && [ -f "$OCPB_PG_SOCKET/data/postmaster.pid" ] &&
		ocpb_as_postgres "$OCPB_PG_BIN/pg_ctl" -D "$OCPB_PG_SOCKET/data" -m fast \
			-w stop >/dev/null 2>&1
	return 0
}

# Starts a simulator on a free loopback port and sets OCPB_SIM_URL to its
# address; arguments go to ocp_sim.py.  Several may run at once.
ocpb_start_sim() {
	local n=${#OCPB_SIM_PIDS[@]} scheme=http arg i
	local port_file="$OCPB_WORK/sim$n.port"
	for arg in "$@"; do [ "$arg" = --tls-cert ] && scheme=https; done
	rm -f "$port_file"
	python3 "$OCPB_ROOT/test/ocp_sim.py" --host 127.0.0.1 --port 0 \
		--port-file "$port_file" "$@" >"$OCPB_WORK/sim$n.log" 2>&1 &
	OCPB_SIM_PIDS+=($!)
	for i in $(seq 1 100); do
		[ -s "$port_file" ] && break
		kill -0 "${OCPB_SIM_PIDS[$n]}" 2>/dev/null || { cat "$OCPB_WORK/sim$n.log" >&2; return 1; }
		sleep 0.1
	done
	[ -s "$port_file" ] || { echo "the simulator did not start" >&2; return 1; }
	OCPB_SIM_URL="$scheme://127.0.0.1:$(cat "$port_file")"
}

# Starts the test forward proxy (test/proxy.py) on loopback port $1 (0: any
# free one) and sets OCPB_PROXY_URL; ocpb_stop_sims stops it too.
ocpb_start_proxy() {
	local port_file="$OCPB_WORK/proxy.port" i
	rm -f "$port_file"
	python3 "$OCPB_ROOT/test/proxy.py" --port "$1" --port-file "$port_file" \
		--log "$OCPB_WORK/proxy.log" >"$OCPB_WORK/proxy.out" 2>&1 &
	OCPB_SIM_PIDS+=($!)
	for i in $(seq 1 100); do
		[ -s "$port_file" ] && break
		kill -0 "$!" 2>/dev/null || { cat "$OCPB_WORK/proxy.out" >&2; return 1; }
		sleep 0.1
	done
	[ -s "$port_file" ] || { echo "the proxy did not start" >&2; return 1; }
	OCPB_PROXY_URL="http://127.0.0.1:$(cat "$port_file")"
}

ocpb_stop_sims() {
	local pid
	for pid in "${OCPB_SIM_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	OCPB_SIM_PIDS=()
	return 0
}

# A throwaway CA, a certificate it signs for 127.0.0.1, and an unrelated CA,
# in $OCPB_WORK/tls, readable by the postgres user.
ocpb_make_test_certificates() {
	local dir="$OCPB_WORK/tls"
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ocp_backup test CA" \
		-keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=unrelated CA" \
		-keyout "$dir/other-ca.key" -out "$dir/other-ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
	printf '%s\n' "subjectAltName=IP:127.0.0.1" "basicConstraints=CA:FALSE" \
		"extendedKeyUsage=serverAuth" >"$dir/server.ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
		-CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
	chmod 0755 "$dir"
	chmod 0644 "$dir"/*.pem
}

# On a hot standby the journal cannot be written, so a call must refuse with
# 25006 before sending anything.  The standby streams from the cluster
# ocpb_start_postgres started, with ocp_backup installed, and calls the
# simulator at OCP_SIM_URL (Basic admin:admin).  Prints what it found, one
# line; returns non-zero on a failure, the calls' output on stderr.
ocpb_check_hot_standby_refuses() {
	local standby="$OCPB_WORK/standby" output requests
	mkdir -p "$standby"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$standby"
	psql -X -q -d postgres -c "CREATE DATABASE standby_check"
	psql -X -q -d standby_check -c "CREATE EXTENSION ocp_backup" \
		-c "CREATE SERVER standby_check FOREIGN DATA WRAPPER ocp_backup OPTIONS (url '$OCP_SIM_URL')" \
		-c "CREATE USER MAPPING FOR PUBLIC SERVER standby_check OPTIONS (username 'admin', password 'admin')"
	# A fast checkpoint: a spread one has the backup wait some 100 s on it.
	ocpb_as_postgres "$OCPB_PG_BIN/pg_basebackup" -h "$OCPB_PG_SOCKET" -p "$OCPB_PG_PORT" -U postgres -c fast \
		-D "$standby/data" -R -X stream >"$OCPB_WORK/basebackup.log" 2>&1
	{
		echo "unix_socket_directories = '$standby'"
		echo "shared_preload_libraries = ''"
	} >>"$standby/data/postgresql.conf"
	ocpb_as_postgres "$OCPB_PG_BIN/pg_ctl" -D "$standby/data" -l "$standby/server.log" -w start >/dev/null
	curl -s -X POST -d '{}' "$OCP_SIM_URL/__sim/reset" >/dev/null
	# Each in a statement of its own; ocp_backup_check records nothing and
	# must work there.
	output=$(psql -X -q -h "$standby" -d standby_check -v VERBOSITY=verbose \
		-c "SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{\"configName\": \"c\", \"obBackupStorageBaseInfo\": {\"backupStorageType\": \"BACKUP_STORAGE_FILE\", \"storageUrl\": \"/\"}}', 'standby_check')" \
		-c "SELECT * FROM ocp_backup_task(3000001, 'standby_check')" \
		-c "SELECT ocp_backup_wait(3000001, server => 'standby_check')" \
		-c "SELECT ocp_backup_refresh()" \
		-c "SELECT 'check ' || reachable || ' ' || authenticated FROM ocp_backup_check('standby_check')" 2>&1)
	# Only the check's GETs may have reached OCP: no POST, no task read.
	requests=$(curl -s "$OCP_SIM_URL/__sim/requests" | python3 -c '
import json, re, sys
print(sum(1 for line in sys.stdin if line.strip()
          and (json.loads(line)["method"] == "POST"
               or re.search(r"/instances/[0-9]", json.loads(line)["path"]))))')
	ocpb_as_postgres "$OCPB_PG_BIN/pg_ctl" -D "$standby/data" -m fast -w stop >/dev/null
	psql -X -q -d postgres -c "DROP DATABASE standby_check" >/dev/null 2>&1
	if [ "$(grep -c "ERROR:  25006" <<<"$output")" -eq 4 ] && grep -q 'check true true' <<<"$output" &&
		[ "$requests" -eq 0 ]; then
		echo "now, task, wait and refresh refuse with 25006 and send nothing; check works"
	else
		printf '%s\n' "$output" >&2
		echo "on a hot standby a call did not refuse before sending, or the check failed ($requests requests)"
		return 1
	fi
}

# For a check that needs them (test/checks/*): a simulator on loopback
# (plain http, Basic admin:admin and the test AccessKey), its address in
# OCP_SIM_URL and the AccessKey in OCP_SIM_ACCESS_KEY_ID/SECRET; and, with
# ocpb_start_check_cluster, a throwaway PostgreSQL (PGHOST, PGPORT, PGUSER)
# whose postgresql.conf gets the arguments as more lines.  Both stop when the
# script exits.  A FAIL line and a non-zero return when one does not start.
ocpb_start_check_sim() {
	[ -n "$OCPB_WORK" ] || ocpb_make_workdir
	export OCP_SIM_ACCESS_KEY_ID="$OCPB_TEST_ACCESS_KEY_ID" OCP_SIM_ACCESS_KEY_SECRET="$OCPB_TEST_ACCESS_SECRET"
	if ! ocpb_start_sim --basic admin:admin --access-key "$OCPB_TEST_ACCESS_KEY"; then
		echo "FAIL the simulator did not start"
		return 1
	fi
	export OCP_SIM_URL="$OCPB_SIM_URL"
}

ocpb_start_check_cluster() {
	ocpb_start_check_sim || return 1
	if ! ocpb_start_postgres "max_worker_processes = 16" "$@"; then
		echo "FAIL a throwaway PostgreSQL ($(pg_config --version)) did not start"
		return 1
	fi
}

# The output convention of every test layer: one line per check on stdout,
# "PASS what" or "FAIL what".  ocpb_checks WHAT COMMAND... runs a program
# that prints such lines (on stdout or stderr) and passes them to stdout,
# as they come; its other lines go to stderr, indented, but for those
# matching the regular expression OCPB_HIDE.  A non-zero exit with no FAIL
# line (a crash) becomes one, "FAIL WHAT: ...".  Returns non-zero when
# anything failed.
ocpb_checks() {
	local what=$1 log status fails
	shift
	log=$(mktemp "${OCPB_WORK:-/tmp}/checks.XXXXXX")
	"$@" 2>&1 | tee "$log" | ocpb_filter
	status=${PIPESTATUS[0]}
	fails=$(grep -c '^FAIL ' "$log")
	rm -f "$log"
	if [ "$status" -ne 0 ] && [ "$fails" -eq 0 ]; then
		echo "FAIL $what: exited with status $status, with no FAIL line"
		fails=1
	fi
	[ "$fails" -eq 0 ]
}

# The filter of ocpb_checks: PASS and FAIL lines to stdout, the others to
# stderr (indented), those matching OCPB_HIDE dropped.
ocpb_filter() {
	awk -v hide="${OCPB_HIDE:-}" '
	/^(PASS|FAIL) / { print; fflush(); next }
	hide != "" && $0 ~ hide { next }
	{ print "  " $0 > "/dev/stderr"; fflush("/dev/stderr") }'
}

ocpb_cleanup() {
	ocpb_stop_sims
	ocpb_stop_postgres
	[ -n "$OCPB_WORK" ] && [ -z "${OCPB_KEEP_WORK:-}" ] && rm -rf "$OCPB_WORK"
	return 0
}
