# shellcheck shell=bash
# fpm.sh - run a PHP-FPM of our own and send it requests; sourced by
# tests/fpm/run.sh (the FPM test) and bench/run.sh (the benchmark).
#
#   fpm_conf DIR POOL...        write DIR/fpm.conf: each POOL is NAME:WORKERS[:USER:GROUP[:TABLE]]
#                               (users only when root; TABLE: the pool's own shmkv.table),
#                               listening on DIR/NAME.sock
#   fpm_start DIR ARGS...       start php-fpm on it in the foreground (ARGS: its -d
#                               settings), wait for every socket; sets fpm_pid
#   fpm_stop                    stop it gracefully (workers too), then for sure
#   fpm_req DIR POOL SCRIPT [QUERY]   one request (cgi-fcgi): the response body
#
# The caller traps EXIT to call fpm_stop.

fpm=${PHP_FPM:-$(command -v php-fpm8.2 || command -v php-fpm || echo /usr/sbin/php-fpm8.2)}
fpm_pid=

fpm_conf() {
    local dir=$1 p name workers user group table
    shift
    {
        echo "[global]"
        echo "pid = $dir/fpm.pid"
        echo "error_log = $dir/fpm.log"
        echo "daemonize = no"
        for p in "$@"; do
            IFS=: read -r name workers user group table <<< "$p"
            echo "[$name]"
            echo "listen = $dir/$name.sock"
            if [ "$(id -u)" -eq 0 ]; then
                echo "user = ${user:-nobody}"
                echo "group = ${group:-nogroup}"
            fi
            echo "listen.mode = 0600"
            echo "pm = static"
            echo "pm.max_children = $workers"
            echo "catch_workers_output = yes"
            [ -z "$table" ] || echo "php_admin_value[shmkv.table] = $table"
        done
    } > "$dir/fpm.conf"
}

fpm_start() {
    local dir=$1 s ready
    shift
    rm -f "$dir"/*.sock
    "$fpm" -n -y "$dir/fpm.conf" "$@" >> "$dir/fpm.out" 2>&1 &
    fpm_pid=$!
    for _ in $(seq 100); do
        ready=yes
        while read -r s; do [ -S "$s" ] || ready=; done < <(sed -n 's/^listen = //p' "$dir/fpm.conf")
        [ -n "$ready" ] && return 0
        kill -0 "$fpm_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "php-fpm did not start:" >&2
    cat "$dir/fpm.out" "$dir/fpm.log" >&2 2>/dev/null
    return 1
}

fpm_stop() {
    [ -n "$fpm_pid" ] || return 0
    kill -QUIT "$fpm_pid" 2>/dev/null || true      # graceful: workers finish, then the master exits
    for _ in $(seq 100); do kill -0 "$fpm_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$fpm_pid" 2>/dev/null || true
    wait "$fpm_pid" 2>/dev/null || true
    fpm_pid=
}

fpm_req() {
    SCRIPT_FILENAME=$1/www/$3 SCRIPT_NAME=/$3 REQUEST_METHOD=GET QUERY_STRING=${4:-} \
        cgi-fcgi -bind -connect "$1/$2.sock" | tr -d '\r' | sed '1,/^$/d'
}
