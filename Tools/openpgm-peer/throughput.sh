#!/bin/bash
# Throughput of pgm-source -> pgm-recv next to OpenPGM -> OpenPGM, UDP encapsulation, across a veth pair
# between two network namespaces created here (root). Prints wall and CPU time of each side and whether the
# received bytes equal the sent ones.
#
#   Tools/openpgm-peer/throughput.sh BIN_DIR [MEGABYTES] [RATE_BITS_PER_SECOND]
#
# BIN_DIR holds pgm-source and pgm-recv (e.g. .build/release). The OpenPGM peer is compiled by ./build.
# Addresses 198.18.11.1/.2, group 239.192.0.1; the namespaces are deleted on exit, whatever happens.
set -u
BIN=${1:?usage: throughput.sh BIN_DIR [MEGABYTES] [RATE]}
MEGABYTES=${2:-100}
RATE=${3:-500000000}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
PREFIX=pgmtp$$
A=${PREFIX}a
B=${PREFIX}b
NETNS="$HERE/../netns"
cleanup() {
    "$NETNS" del "$A" "$B"
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

"$HERE/build" "$WORK/peer" || exit 1
head -c $((MEGABYTES * 1000000)) /dev/urandom > "$WORK/in"
"$NETNS" add "$A" && "$NETNS" add "$B" || exit 1
"$NETNS" link "$A" "${PREFIX}x" 198.18.11.1/24 "$B" "${PREFIX}y" 198.18.11.2/24 || exit 1

run() {
    local name=$1 receiver=$2 sender=$3
    rm -f "$WORK/out"
    /usr/bin/time -o "$WORK/time-recv" -f "%e s wall, %U s user, %S s sys" \
        timeout 60 ip netns exec "$B" bash -c "$receiver" 2>"$WORK/recv.err" &
    local pid=$!
    sleep 0.5
    /usr/bin/time -o "$WORK/time-send" -f "%e s wall, %U s user, %S s sys" \
        timeout 60 ip netns exec "$A" bash -c "$sender" 2>"$WORK/send.err"
    wait $pid
    local status=$?
    local same=DIFFERENT
    cmp -s "$WORK/in" "$WORK/out" && same=identical
    echo "$name: $MEGABYTES MB at $RATE bit/s, receiver exit $status, output $same"
    echo "  sender:   $(cat "$WORK/time-send")"
    echo "  receiver: $(cat "$WORK/time-recv")"
}

run "pgm-source -> pgm-recv" \
    "$BIN/pgm-recv --interface 198.18.11.2 --output $WORK/out --timeout 10" \
    "$BIN/pgm-source --interface 198.18.11.1 --congestion-control none --rate $RATE --linger 1 $WORK/in"
run "OpenPGM -> OpenPGM" \
    "$WORK/peer recv --network '198.18.11.2;239.192.0.1' --udp 3056 --timeout 10 --bytes $((MEGABYTES * 1000000)) > $WORK/out" \
    "$WORK/peer send --network '198.18.11.1;239.192.0.1' --udp 3056 --rate $((RATE / 8)) --linger 1 < $WORK/in"
