#!/usr/bin/env bash
# Harness for housekeeping_membership: finds Odoo, owns a PostgreSQL cluster
# under .cache/, links the checkout as an addon and runs Odoo or its tests.
# Usage: tools/harness.sh (run|test|test-odoo|test-compat|test-cycle|lint|bench|shell|pg-start|pg-stop)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=$ROOT/.cache
MODULE=housekeeping_membership
DEPS=contacts,mail,portal,rating,hr,sale_management,sale_loyalty,sms,spreadsheet_dashboard
PGDATA=$CACHE/pgdata
PGSOCK=$CACHE/pgsock
PGPORT=${HK_PGPORT:-54329}
DB_USER=odoo
DEMO_DB=${HK_DEMO_DB:-housekeeping_demo}
TEST_DB=${HK_TEST_DB:-housekeeping_test}
PY=${PYTHON:-python3}

log() { printf '[harness] %s\n' "$*" >&2; }
die() { printf '[harness] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- Odoo
find_odoo() {
    if [[ -n ${ODOO_SRC:-} ]]; then
        [[ -d $ODOO_SRC/odoo && -d $ODOO_SRC/addons ]] \
            || die "ODOO_SRC=$ODOO_SRC is not an Odoo 19.0 source tree (needs odoo/ and addons/)."
        export PYTHONPATH=$ODOO_SRC${PYTHONPATH:+:$PYTHONPATH}
        ODOO_ROOT=$ODOO_SRC
    else
        ODOO_ROOT=$($PY - <<'PY' 2>/dev/null || true
import os, odoo
print(os.path.dirname(os.path.abspath(list(odoo.__path__)[0])))
PY
)
        [[ -n $ODOO_ROOT ]] || die "Odoo 19.0 is not importable by $PY and ODOO_SRC is unset.
  Install Odoo 19.0 (pip install --no-deps -e /path/to/odoo after its requirements.txt)
  or point at a source tree: make test ODOO_SRC=/path/to/odoo"
    fi
    $PY -c 'import odoo.release as r, sys; sys.exit(0 if r.version_info[:2] == (19, 0) else 1)' \
        || die "Odoo found at $ODOO_ROOT is not version 19.0."
    ADDONS_PATH=$CACHE/addons,$ODOO_ROOT/addons
    [[ -d $ODOO_ROOT/odoo/addons ]] && ADDONS_PATH=$ADDONS_PATH,$ODOO_ROOT/odoo/addons
    mkdir -p "$CACHE/addons"
    ln -sfn "$ROOT" "$CACHE/addons/$MODULE"
}

# ---------------------------------------------------------------- system packages
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

ensure_apt() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq >/dev/null || die "apt-get update failed; install ${missing[*]} by hand"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "could not install ${missing[*]}"
}

pg_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do [[ -x $d/pg_ctl ]] && { echo "$d"; return; }; done
    return 1
}

ensure_system_deps() {
    pg_bindir >/dev/null || ensure_apt postgresql
    local want=(postgresql-client)
    [[ ${1:-} == browser ]] && want+=(chromium fonts-noto-cjk poppler-utils wkhtmltopdf)
    ensure_apt "${want[@]}"
}

ensure_python_deps() {
    if ! $PY -c 'import numpy, scipy' 2>/dev/null; then
        log "installing the addon's Python requirements (requirements.txt)"
        $PY -m pip install -q --disable-pip-version-check -r "$ROOT/requirements.txt" \
            || die "pip install -r requirements.txt failed"
    fi
    if ! $PY -c 'import pytest_odoo, websocket, freezegun' 2>/dev/null; then
        log "installing Python test requirements (requirements-dev.txt)"
        $PY -m pip install -q --disable-pip-version-check -r "$ROOT/requirements-dev.txt" \
            || die "pip install -r requirements-dev.txt failed"
    fi
}

# ---------------------------------------------------------------- PostgreSQL
PG_OWNER=$(id -un)
run_pg() {  # run a PostgreSQL binary as the cluster owner (PostgreSQL refuses root)
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    ensure_system_deps
    local bin; bin=$(pg_bindir) || die "PostgreSQL server binaries not found"
    mkdir -p "$CACHE"
    if [[ $(id -u) -eq 0 ]]; then PG_OWNER=postgres; fi
    if [[ ! -f $PGDATA/PG_VERSION ]]; then
        log "initialising a PostgreSQL cluster in $PGDATA"
        mkdir -p "$PGDATA" "$PGSOCK"
        if [[ $(id -u) -eq 0 ]]; then
            chown -R postgres: "$PGDATA" "$PGSOCK"
            # the postgres user must reach .cache/pgdata: let it traverse the path
            local d=$CACHE
            until runuser -u postgres -- test -x "$CACHE" || [[ $d == / ]]; do chmod o+x "$d"; d=$(dirname "$d"); done
        fi
        run_pg "$bin/initdb" -D "$PGDATA" -U "$PG_OWNER" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
        cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = ''
port = $PGPORT
unix_socket_directories = '$PGSOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 512MB
max_connections = 200
CONF
    fi
    mkdir -p "$PGSOCK"; [[ $(id -u) -eq 0 ]] && chown postgres: "$PGSOCK"
    if ! run_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        run_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w start >/dev/null \
            || { tail -20 "$PGDATA/server.log" >&2; die "PostgreSQL did not start"; }
    fi
    if ! psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'" | grep -q 1; then
        psql_admin -qc "CREATE ROLE $DB_USER LOGIN SUPERUSER"
    fi
}

pg_stop() {
    replica_stop
    local bin; bin=$(pg_bindir) || return 0
    [[ -f $PGDATA/PG_VERSION ]] && run_pg "$bin/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
}

psql_admin() { run_pg psql -h "$PGSOCK" -p "$PGPORT" -U "$([[ $(id -u) -eq 0 ]] && echo postgres || id -un)" -d postgres "$@"; }
psql_db() { psql -h "$PGSOCK" -p "$PGPORT" -U "$DB_USER" "$@"; }
module_state() {  # module_state DB -> state of the addon in DB (empty when absent)
    db_exists "$1" || return 0
    psql_db -d "$1" -tAc "SELECT state FROM ir_module_module WHERE name='$MODULE'" 2>/dev/null || true
}
db_exists() { psql_db -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$1'" | grep -q 1; }

write_conf() {  # write_conf DB -> path of an Odoo config file
    local conf=$CACHE/odoo-$1.conf
    cat >"$conf" <<CONF
[options]
addons_path = $ADDONS_PATH
data_dir = $CACHE/filestore
db_host = $PGSOCK
db_port = $PGPORT
db_user = $DB_USER
db_name = $1
dbfilter = ^$1\$
list_db = False
admin_passwd = admin
http_port = ${HK_HTTP_PORT:-8069}
CONF
    echo "$conf"
}

odoo_bin() { $PY -m odoo "$@"; }

# A template database with Odoo's dependencies installed, keyed by the Odoo tree.
template_db() {
    local key; key=$( (echo "$DEPS"; cat "$ODOO_ROOT"/odoo/release.py) | md5sum | cut -c1-8)
    echo "hk_tpl_$key"
}

ensure_template() {
    local tpl; tpl=$(template_db)
    if ! db_exists "$tpl"; then
        log "building template database $tpl with $DEPS (once, about 2 minutes)"
        local conf; conf=$(write_conf "$tpl")
        odoo_bin -c "$conf" -d "$tpl" -i "$DEPS" --stop-after-init \
            --log-level=warn >"$CACHE/template.log" 2>&1 \
            || { tail -40 "$CACHE/template.log" >&2; psql_db -d postgres -qc "DROP DATABASE IF EXISTS \"$tpl\""; die "template build failed"; }
    fi
    echo "$tpl"
}

fresh_db() {  # fresh_db NAME: a copy of the template with the addon installed
    local db=$1 tpl; tpl=$(ensure_template)
    psql_db -d postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    rm -rf "$CACHE/filestore/filestore/$db"
    psql_db -d postgres -qc "CREATE DATABASE \"$db\" TEMPLATE \"$tpl\""
    if [[ -d $CACHE/filestore/filestore/$tpl ]]; then
        mkdir -p "$CACHE/filestore/filestore"; cp -r "$CACHE/filestore/filestore/$tpl" "$CACHE/filestore/filestore/$db"
    fi
    local conf; conf=$(write_conf "$db")
    log "installing $MODULE into $db"
    odoo_bin -c "$conf" -d "$db" -i "$MODULE" --stop-after-init \
        --log-level=warn >"$CACHE/install-$db.log" 2>&1 \
        || { tail -60 "$CACHE/install-$db.log" >&2; die "installing $MODULE failed (log: $CACHE/install-$db.log)"; }
    if grep -E ' (ERROR|CRITICAL) ' "$CACHE/install-$db.log" >/dev/null; then
        grep -E ' (ERROR|CRITICAL) ' -A20 "$CACHE/install-$db.log" | head -80 >&2
        die "installing $MODULE logged errors"
    fi
}

# ---------------------------------------------------------------- commands
cmd_run() {
    find_odoo; ensure_python_deps; pg_start
    local conf; conf=$(write_conf "$DEMO_DB")
    if [[ $(module_state "$DEMO_DB") != installed ]]; then
        log "creating $DEMO_DB with demo data (first time only: a few minutes)"
        odoo_bin -c "$conf" -d "$DEMO_DB" -i "$MODULE" --with-demo --load-language=zh_CN \
            --stop-after-init --log-level=warn \
            || die "could not create $DEMO_DB"
    fi
    log "Odoo on http://localhost:${HK_HTTP_PORT:-8069} (admin/admin), database $DEMO_DB"
    exec $PY -m odoo -c "$conf" -d "$DEMO_DB" --http-port="${HK_HTTP_PORT:-8069}" --dev=xml
}

check_browser() {
    $PY -c 'import websocket' 2>/dev/null || die "websocket-client is missing: browser tests would be skipped"
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
        || die "Chromium is missing: browser tests would be skipped"
}

cmd_test() {
    find_odoo; ensure_python_deps; ensure_system_deps browser; check_browser; pg_start
    # The whole suite (no TESTS) starts with the install/upgrade/uninstall/reinstall
    # cycle (about 50 s; HK_SKIP_CYCLE=1 leaves it out); a failure fails the run
    # after the tests.
    local cycle_failed=0
    if (($# == 0)) && [[ ${HK_SKIP_CYCLE:-} != 1 ]]; then
        (cmd_test_cycle) || cycle_failed=1
    fi
    fresh_db "$TEST_DB"
    local conf; conf=$(write_conf "$TEST_DB")
    local addon=$CACHE/addons/$MODULE args=() a
    # pytest-odoo names test modules after the folder holding the manifest: pass
    # paths through the link so that they import as odoo.addons.$MODULE.
    # (the value of -k / -m is an expression, not a path)
    local value_next=0
    for a in "${@:-tests/}"; do
        if ((value_next)) || [[ $a == -* ]]; then args+=("$a"); else args+=("$addon/${a#./}"); fi
        value_next=0; [[ $a == -k || $a == -m ]] && value_next=1
    done
    cd "$addon"
    HK_STRICT_SKIP=1 PYTHONPATH=$ROOT/tools${PYTHONPATH:+:$PYTHONPATH} $PY -m pytest -p no:cacheprovider -p hk_pytest_strict \
        --odoo-database="$TEST_DB" --odoo-config="$conf" --odoo-http \
        --odoo-log-level="${HK_LOG_LEVEL:-warn}" --rootdir="$addon" "${args[@]}" || return $?
    ((cycle_failed == 0)) || die "the tests passed but make test-cycle failed (see above)"
}

cmd_test_odoo() {
    find_odoo; ensure_python_deps; ensure_system_deps browser; check_browser; pg_start
    fresh_db "$TEST_DB"
    local conf; conf=$(write_conf "$TEST_DB") logf=$CACHE/test-odoo.log
    # Tests on several real database cursors (tag hk_real_cursors) need a registry
    # that no other test holds: they run under `make test` (pytest-odoo) only.
    odoo_bin -c "$conf" -d "$TEST_DB" -u "$MODULE" --test-tags "/$MODULE,-hk_real_cursors" --stop-after-init \
        --log-level=test --http-port=0 2>&1 | tee "$logf"
    grep -qE ' 0 failed, 0 error\(s\) of [1-9][0-9]* tests' "$logf" \
        || die "test-odoo: failures or errors (see $logf)"
    ! grep -qiE 'odoo\.tests.*skip' "$logf" || die "test-odoo: skipped tests (see $logf)"
}

cmd_test_compat() {  # Odoo's own tests of the modules we extend, with the addon installed
    find_odoo; ensure_python_deps; ensure_system_deps browser; check_browser; pg_start
    fresh_db hk_compat
    local conf; conf=$(write_conf hk_compat) base=$ODOO_ROOT/odoo/addons/base/tests
    # Run through pytest-odoo on the fully loaded registry (running them with `-u`
    # would load low-level modules' at_install tests in a partial registry).
    # Deselected: three base tests that fail the same way on this set of modules
    # WITHOUT the addon (checked on the template database; upstream, not ours).
    HK_STRICT_SKIP=1 PYTHONPATH=$ROOT/tools${PYTHONPATH:+:$PYTHONPATH} $PY -m pytest -p no:cacheprovider \
        -p hk_pytest_strict --odoo-database=hk_compat --odoo-config="$conf" --odoo-http \
        --odoo-log-level=warn -q \
        "$base/test_res_partner.py" "$base/test_res_partner_merge.py" \
        "$ODOO_ROOT/addons/contacts/tests" "$ODOO_ROOT/addons/sale_loyalty/tests" \
        "$ODOO_ROOT/addons/portal/tests" \
        -k "not test_commercial_field_sync_reset and not test_address_parent_company_creation \
            and not test_merge_partners_with_peon_user" \
        "$@"
}

# Seconds to install the addon on a database already holding $1 partners (made
# in bulk SQL on a copy of the template, which has only Odoo's modules).
bench_install() {
    local n=$1 db=hk_bench_install tpl; tpl=$(ensure_template)
    psql_db -d postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    psql_db -d postgres -qc "CREATE DATABASE \"$db\" TEMPLATE \"$tpl\""
    psql_db -d "$db" -qc "INSERT INTO res_partner (name, complete_name, type, active, is_company,
            lang, tz, company_id, create_date, write_date, create_uid, write_uid, autopost_bills,
            phone, email)
        SELECT 'Install Customer ' || g, 'Install Customer ' || g, 'contact', true, false,
               'zh_CN', 'Asia/Shanghai', 1, now(), now(), 1, 1, 'ask',
               '139' || lpad(g::text, 8, '0'), 'c' || g || '@example.com'
          FROM generate_series(1, $n) g; ANALYZE res_partner"
    local conf t0 t1; conf=$(write_conf "$db")
    t0=$(date +%s.%N)
    odoo_bin -c "$conf" -d "$db" -i "$MODULE" --stop-after-init --log-level=warn \
        >"$CACHE/install-$db.log" 2>&1 \
        || { tail -40 "$CACHE/install-$db.log" >&2; die "installing on $n partners failed"; }
    t1=$(date +%s.%N)
    psql_db -d postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    printf '%.1f' "$(echo "$t1 - $t0" | bc)"
}

# A hot standby of the harness's cluster (pg_basebackup -R: streaming replication
# on the loopback socket), port PGPORT+1, and the replica benchmark on it.
replica_stop() {
    local bin; bin=$(pg_bindir) || return 0
    [[ -f $CACHE/pgreplica/PG_VERSION ]] \
        && run_pg "$bin/pg_ctl" -D "$CACHE/pgreplica" -m fast stop >/dev/null 2>&1 || true
    # the slot keeps the primary's WAL for the standby: gone with it
    [[ -S $PGSOCK/.s.PGSQL.$PGPORT ]] && psql_admin -qAtc "SELECT pg_drop_replication_slot(slot_name)
        FROM pg_replication_slots WHERE slot_name = 'hk_replica'" >/dev/null 2>&1 || true
}

cmd_bench_replica() {
    find_odoo; ensure_python_deps; pg_start
    local scale=${SCALE:-small} db=${HK_REPLICA_DB:-hk_bench_replica_${SCALE:-small}}
    local bin replica=$CACHE/pgreplica rport=$((PGPORT + 1)); bin=$(pg_bindir)
    replica_stop
    local conf
    if [[ -n ${HK_REPLICA_DB:-} ]] && [[ $(module_state "$db") == installed ]]; then
        # a database a `make bench` left (e.g. HK_REPLICA_DB=hk_bench_large): no generation
        conf=$(write_conf "$db")
        log "reusing $db (no generation)"
    else
        fresh_db "$db"
        conf=$(write_conf "$db")
        log "generating the $scale population (bench generator, visit statistics)"
        $PY "$ROOT/tools/bench.py" --config "$conf" --database "$db" --scale "$scale" --only stats \
            >"$CACHE/bench-replica-generate.log" 2>&1 \
            || { tail -30 "$CACHE/bench-replica-generate.log" >&2; die "generating the population failed"; }
    fi
    log "cloning a hot standby (pg_basebackup -R) on port $rport"
    rm -rf "$replica"; mkdir -p "$replica"; chmod 700 "$replica"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$replica"
    # a replication slot: the primary keeps the WAL the standby has not received
    # (without one, a busy primary recycled it before the standby connected)
    run_pg "$bin/pg_basebackup" -h "$PGSOCK" -p "$PGPORT" -U "$PG_OWNER" -D "$replica" -R \
        -X stream -c fast -C -S hk_replica
    # (the standby's log says which replay conflicts made its readers wait)
    # (and runs the screens' queries without parallel workers unless HK_REPLICA_PARALLEL
    # says how many: docs/scale-out.md, Settings that matter)
    run_pg sh -c "printf '%s\n' 'port = $rport' 'log_recovery_conflict_waits = on' \
        'log_min_duration_statement = 2000' \
        'max_parallel_workers_per_gather = ${HK_REPLICA_PARALLEL:-0}' >>'$replica/postgresql.conf'"
    run_pg rm -f "$replica/server.log"
    run_pg "$bin/pg_ctl" -D "$replica" -l "$replica/server.log" -w start >/dev/null \
        || { tail -20 "$replica/server.log" >&2; die "the standby did not start"; }
    local stop="$bin/pg_ctl -D $replica -m fast stop"
    [[ $(id -u) -eq 0 ]] && stop="runuser -u postgres -- $stop"
    local rc=0
    $PY "$ROOT/tools/bench_replica.py" --config "$conf" --database "$db" --replica-port "$rport" \
        --primary-data "$PGDATA" --replica-data "$replica" \
        --replica-stop "$stop" --clients "${HK_CLIENTS:-20}" --seconds "${HK_SECONDS:-60}" \
        --due-share "${HK_DUE_SHARE:-0.01}" --think "${HK_THINK:-1}" \
        --writer-nice "${HK_WRITER_NICE:-10}" \
        | tee "$CACHE/bench-replica-$scale.md" || rc=$?
    replica_stop
    return $rc
}

cmd_test_cycle() {  # install -> data -> upgrade (-u) -> uninstall -> reinstall, on a copy
    find_odoo; ensure_python_deps; pg_start
    local db=hk_cycle tpl; tpl=$(ensure_template)
    psql_db -d postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    rm -rf "$CACHE/filestore/filestore/$db"
    psql_db -d postgres -qc "CREATE DATABASE \"$db\" TEMPLATE \"$tpl\""
    [[ -d $CACHE/filestore/filestore/$tpl ]] && cp -r "$CACHE/filestore/filestore/$tpl" "$CACHE/filestore/filestore/$db"
    local conf logf=$CACHE/test-cycle.log; conf=$(write_conf "$db")
    : >"$logf"
    cycle_odoo() {  # cycle_odoo LABEL ARGS...: run Odoo, fail on an error in its log
        local label=$1; shift
        log "cycle: $label"
        local out=$CACHE/cycle-step.log
        odoo_bin -c "$conf" -d "$db" "$@" --log-level=warn >"$out" 2>&1 \
            || { cat "$out" >>"$logf"; tail -40 "$out" >&2; die "cycle: $label failed (log: $logf)"; }
        cat "$out" >>"$logf"
        if grep -E ' (ERROR|CRITICAL) ' "$out" >/dev/null; then
            grep -E ' (ERROR|CRITICAL) ' -A20 "$out" | head -60 >&2
            die "cycle: $label logged errors (log: $logf)"
        fi
    }
    cycle_shell() {  # cycle_shell STEP: a step of tools/cycle_check.py in odoo shell
        local out=$CACHE/cycle-step.log
        log "cycle: $1"
        HK_CYCLE_STEP=$1 odoo_bin shell -c "$conf" -d "$db" --no-http --log-level=warn \
            <"$ROOT/tools/cycle_check.py" >"$out" 2>&1 || true
        cat "$out" >>"$logf"
        grep -q '^CYCLE-OK' "$out" || { tail -40 "$out" >&2; die "cycle: $1 failed (log: $logf)"; }
        if grep -E ' (ERROR|CRITICAL) ' "$out" >/dev/null; then
            grep -E ' (ERROR|CRITICAL) ' -A20 "$out" | head -60 >&2
            die "cycle: $1 logged errors (log: $logf)"
        fi
    }
    cycle_odoo "install" -i "$MODULE" --stop-after-init
    cycle_shell data
    cycle_odoo "upgrade (-u) with data" -u "$MODULE" --stop-after-init
    cycle_shell check-data
    cycle_shell uninstall
    cycle_odoo "reinstall" -i "$MODULE" --stop-after-init
    cycle_shell check-installed
    psql_db -d postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    rm -rf "$CACHE/filestore/filestore/$db"
    log "cycle: install, upgrade, uninstall and reinstall are clean"
}

cmd_bench() {
    find_odoo; ensure_python_deps; pg_start
    local scale=${SCALE:-small} db=${HK_BENCH_DB:-hk_bench_${SCALE:-small}}
    fresh_db "$db"
    local conf; conf=$(write_conf "$db")
    if [[ -n ${HK_BENCH_ONLY:-} ]]; then
        # some steps only (e.g. HK_BENCH_ONLY=stats,prediction): no HTTP nor install
        # benchmark, docs/benchmarks/ untouched
        $PY "$ROOT/tools/bench.py" --config "$conf" --database "$db" --scale "$scale" \
            --only "$HK_BENCH_ONLY"
        return
    fi
    $PY "$ROOT/tools/bench.py" --config "$conf" --database "$db" --scale "$scale"
    log "points redemption over HTTP, 20 concurrent clients"
    $PY "$ROOT/tools/bench_http.py" --config "$conf" --database "$db" | tee -a "$CACHE/bench-$scale.md"
    local n; n=$($PY -c "import sys; sys.path.insert(0, '$ROOT/tools'); import bench; print(bench.SCALES['$scale'][0])")
    log "installing the addon on a database with $n partners"
    local secs; secs=$(bench_install "$n")
    local line="Installing the addon on a database that already holds $n partners: $secs s."
    echo "$line"; echo "$line" >>"$CACHE/bench-$scale.md"
    # keep the figures for the growth plot (make bench-plot)
    mkdir -p "$ROOT/docs/benchmarks"
    $PY - "$CACHE/bench-$scale.json" "$ROOT/docs/benchmarks/$scale.json" "$secs" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
data["install_seconds"] = float(sys.argv[3])
json.dump(data, open(sys.argv[2], "w"), indent=1)
PY
}

cmd_pot() {  # regenerate i18n/housekeeping_membership.pot from a fresh install
    find_odoo; ensure_python_deps; pg_start
    # Odoo's term extraction walks the module folder following links; the link
    # .cache/addons/$MODULE -> checkout would loop, so export from a clean copy.
    local src=$CACHE/pot-src
    rm -rf "$src"; mkdir -p "$src/$MODULE"
    tar -C "$ROOT" --exclude=./.cache --exclude=./.git -cf - . | tar -C "$src/$MODULE" -xf -
    ADDONS_PATH=$src,${ADDONS_PATH#*,}
    fresh_db hk_pot
    local conf; conf=$(write_conf hk_pot)
    odoo_bin i18n export -c "$conf" -d hk_pot "$MODULE" -o "$ROOT/i18n/$MODULE.pot" 2>&1 | grep -v INFO || true
    log "wrote i18n/$MODULE.pot"
}

cmd_shell() { find_odoo; pg_start; local conf; conf=$(write_conf "${1:-$DEMO_DB}"); odoo_bin shell -c "$conf" -d "${1:-$DEMO_DB}" --no-http; }

cmd_lint() {
    $PY -c 'import ruff, pylint_odoo' 2>/dev/null || $PY -m pip install -q -r "$ROOT/requirements-dev.txt"
    cd "$ROOT"
    $PY -m ruff check . || return
    $PY -m ruff format --check . || return
    # The Python files of the checkout, tracked or new (untracked, not ignored), that
    # are still on disk (a file deleted but not yet committed stays in the index).
    local files=() f
    while IFS= read -r f; do
        [[ -f $f ]] && files+=("$f")
    done < <(git ls-files --cached --others --exclude-standard '*.py' | grep -v '^tools/')
    # pylint-odoo knows a file belongs to an addon (which its addon-wide checks, such
    # as consider-merging-classes-inherited, need) by walking up from the file's
    # folder to a __manifest__.py; it stops at the first folder holding .git without
    # looking in it. Here that folder is the addon itself, and .cache/addons/$MODULE
    # links to it (.git included), so neither finds the manifest. Lint through a
    # temporary folder named after the addon that links every entry of the checkout
    # but .git and the caches: paths in the messages stay relative to the addon.
    local tmp rc=0 e
    tmp=$(mktemp -d)
    mkdir "$tmp/$MODULE"
    for e in "$ROOT"/* "$ROOT"/.[!.]*; do
        case ${e##*/} in .git | .cache | .ruff_cache | .pytest_cache | '.[!.]*') continue ;; esac
        ln -s "$e" "$tmp/$MODULE/${e##*/}"
    done
    (cd "$tmp/$MODULE" && $PY -m pylint --rcfile="$ROOT/.pylintrc" --load-plugins=pylint_odoo \
        --valid-odoo-versions=19.0 "${files[@]}") || rc=$?
    rm -rf "$tmp"
    return $rc
}

case ${1:-} in
    run) cmd_run ;;
    test) shift; cmd_test "$@" ;;
    test-odoo) cmd_test_odoo ;;
    test-compat) shift; cmd_test_compat "$@" ;;
    test-cycle) cmd_test_cycle ;;
    bench) cmd_bench ;;
    bench-replica) cmd_bench_replica ;;
    bench-plot) $PY -c 'import matplotlib' 2>/dev/null || $PY -m pip install -q matplotlib; $PY "$ROOT/tools/bench_plot.py" "$ROOT/docs/benchmarks" ;;
    bench-install) shift; find_odoo; pg_start; bench_install "${1:-100000}"; echo ;;
    lint) cmd_lint ;;
    pot) cmd_pot ;;
    shell) shift; cmd_shell "$@" ;;
    prediction-holdout)  # the holdout table of docs/prediction.md on the demo generator's history
        find_odoo; ensure_python_deps; pg_start; fresh_db hk_prediction_holdout
        $PY "$ROOT/tools/prediction_holdout.py" --demo hk_prediction_holdout \
            --config "$(write_conf hk_prediction_holdout)" --plot "$ROOT/docs/prediction/calibration_demo.png" ;;
    pg-start) find_odoo; pg_start ;;
    pg-stop) pg_stop ;;
    *) echo "usage: $0 run|test|test-odoo|test-compat|test-cycle|bench|lint|shell|pg-start|pg-stop" >&2; exit 2 ;;
esac
