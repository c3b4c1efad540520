#!/usr/bin/env bash
# A throw-away one-node Ceph cluster (one mon, one memstore OSD, one radosgw) on 127.0.0.1 for the
# S3 Object Lock tests. Everything lives in DIR; memstore keeps the data in the OSD's memory, so
# stopping the daemons leaves nothing behind but DIR.
#
#   ceph_rgw.sh start DIR MON_PORT RGW_PORT ACCESS_KEY SECRET_KEY [OWNER_PID]
#       starts the daemons, waits (at most $CEPH_RGW_START_TIMEOUT seconds, default 60) until the
#       S3 port answers, creates an S3 user with the given keys and prints "ready". When OWNER_PID
#       is given, a watchdog stops the daemons as soon as that process is gone, so a crashed or
#       killed test leaves no daemon running. Exit status 2: a Ceph program is missing; 1: the
#       cluster did not come up (the reason is on stderr, and the daemons are stopped).
#   ceph_rgw.sh stop DIR
#       kills the daemons started in DIR (their PIDs are in DIR/pids) and waits for them.
set -u

stop_cluster() {
  local dir=$1
  [ -f "$dir/pids" ] || return 0
  local pid
  for pid in $(cat "$dir/pids"); do kill -TERM "$pid" 2>/dev/null || true; done
  # memstore has nothing to flush: a daemon still alive after 3 s is killed outright.
  for _ in $(seq 1 30); do
    local alive=0
    for pid in $(cat "$dir/pids"); do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in $(cat "$dir/pids"); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$dir/pids"
}

give_up() {
  echo "ceph_rgw.sh: $1" >&2
  stop_cluster "$DIR"
  exit 1
}

if [ "${1:-}" = stop ]; then
  stop_cluster "${2:?usage: ceph_rgw.sh stop DIR}"
  exit 0
fi
if [ "${1:-}" != start ] || [ $# -lt 6 ]; then
  echo "usage: ceph_rgw.sh start DIR MON_PORT RGW_PORT ACCESS_KEY SECRET_KEY [OWNER_PID] | stop DIR" >&2
  exit 64
fi
DIR=$2 MON_PORT=$3 RGW_PORT=$4 ACCESS_KEY=$5 SECRET_KEY=$6 OWNER_PID=${7:-}
TIMEOUT=${CEPH_RGW_START_TIMEOUT:-60}

for program in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph uuidgen; do
  command -v "$program" >/dev/null || { echo "ceph_rgw.sh: $program is not installed" >&2; exit 2; }
done

mkdir -p "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log"
: >"$DIR/pids"
deadline=$((SECONDS + TIMEOUT))
FSID=$(uuidgen)
CONF=$DIR/ceph.conf
cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = 127.0.0.1:$MON_PORT
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
run dir = $DIR/run
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
mon data = $DIR/mon/\$name
osd data = $DIR/osd/\$name
osd objectstore = memstore
memstore device bytes = 2147483648
# A test cluster on a shared 2-core machine: no journal sync waits, little logging.
osd journal size = 0
debug ms = 0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
CONF
export CEPH_CONF=$CONF

monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$DIR/monmap" >"$DIR/log/setup.log" 2>&1 ||
  give_up "monmaptool failed (see $DIR/log/setup.log)"
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >>"$DIR/log/setup.log" 2>&1 ||
  give_up "ceph-mon --mkfs failed (see $DIR/log/setup.log)"
setsid ceph-mon -c "$CONF" -f -i a </dev/null >"$DIR/log/mon.out" 2>&1 &
echo $! >>"$DIR/pids"

# The watchdog: detached from the caller's stdout, so a caller reading our output sees EOF on time.
if [ -n "$OWNER_PID" ]; then
  (
    while kill -0 "$OWNER_PID" 2>/dev/null && [ -f "$DIR/pids" ]; do sleep 1; done
    stop_cluster "$DIR"
  ) </dev/null >/dev/null 2>&1 &
fi

osd_id=""
while [ $SECONDS -lt $deadline ]; do
  osd_id=$(timeout 10 ceph -c "$CONF" osd create 2>>"$DIR/log/setup.log") && break
  osd_id=""
  sleep 0.3
done
[ -n "$osd_id" ] || give_up "the monitor did not answer within ${TIMEOUT}s (see $DIR/log)"
mkdir -p "$DIR/osd/osd.$osd_id"
ceph-osd -c "$CONF" -i "$osd_id" --mkfs >>"$DIR/log/setup.log" 2>&1 ||
  give_up "ceph-osd --mkfs failed (see $DIR/log/setup.log)"
setsid ceph-osd -c "$CONF" -f -i "$osd_id" </dev/null >"$DIR/log/osd.out" 2>&1 &
echo $! >>"$DIR/pids"

# Do not pass --rgw-zone/--rgw-zonegroup: on a fresh cluster that fails with "failed reading
# zonegroup info"; radosgw creates the default zone itself.
setsid radosgw -c "$CONF" -f -n client.rgw.a </dev/null >"$DIR/log/rgw.out" 2>&1 &
echo $! >>"$DIR/pids"

until (exec 3<>"/dev/tcp/127.0.0.1/$RGW_PORT") 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || give_up "radosgw did not listen on 127.0.0.1:$RGW_PORT within ${TIMEOUT}s (see $DIR/log)"
  sleep 0.2
done
until radosgw-admin -c "$CONF" user create --uid=test --display-name=test \
  --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null 2>>"$DIR/log/setup.log"; do
  [ $SECONDS -lt $deadline ] || give_up "radosgw-admin user create failed within ${TIMEOUT}s (see $DIR/log/setup.log)"
  sleep 0.3
done
echo ready
