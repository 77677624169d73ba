#!/usr/bin/env bash
# Runs one OpenPGM FEC transfer, sender -> receiver, between two network namespaces joined by a veth pair, with
# the sender's veth captured by tcpdump (UDP encapsulation on port 7500, and IP fragments: parity can exceed the
# MTU), for Docs/openpgm.md "FEC".
#   Tools/openpgm-peer/fec-lab.sh OUT_DIR BYTES DROP_PERCENT [peer options for both roles...]
# The sender is 198.18.0.1, the receiver 198.18.0.2, group 239.192.70.1. DROP_PERCENT > 0 adds an nftables
# netdev ingress rule on the receiver's veth dropping that share of UDP 7500 packets from the sender (NAKs
# and the receiver's own packets are untouched). Leaves in OUT_DIR: wire.pcap, sent, received, send.err,
# recv.err, result (one line: sender and receiver exit codes, byte-exact or not). Namespaces are named
# fo<PID>-s / fo<PID>-r and are removed on exit. Needs root and $PEER (default /tmp/fo-peer, built by
# Tools/openpgm-peer/build); SEND_PEER and RECV_PEER override either command (e.g. a gdb wrapper for a backtrace);
# RECV_ARGS, when set, replaces the peer options for the receiver (e.g. RECV_ARGS="" for one without FEC);
# NAKS="AFTER_SQN TG:COUNT ..." also runs fec-nak.py in the receiver's namespace (parity NAKs to the source).
set -uo pipefail
out=${1:?usage: fec-lab.sh OUT_DIR BYTES DROP_PERCENT [peer options]}
bytes=${2:?}
drop=${3:?}
shift 3
peer=${PEER:-/tmp/fo-peer}
s="fo$$-s" r="fo$$-r"
mkdir -p "$out"
cleanup() {
    [ -n "${dump:-}" ] && kill "$dump" 2>/dev/null
    ip netns del "$s" 2>/dev/null
    ip netns del "$r" 2>/dev/null
}
trap cleanup EXIT
ip netns add "$s" && ip netns add "$r"
ip link add "fo$$a" netns "$s" type veth peer name "fo$$b" netns "$r"
ip -n "$s" addr add 198.18.0.1/24 dev "fo$$a"
ip -n "$r" addr add 198.18.0.2/24 dev "fo$$b"
for n in "$s" "$r"; do ip -n "$n" link set lo up; done
ip -n "$s" link set "fo$$a" up
ip -n "$r" link set "fo$$b" up
ip -n "$s" route add 239.192.0.0/16 dev "fo$$a"
ip -n "$r" route add 239.192.0.0/16 dev "fo$$b"
if [ "$drop" -gt 0 ]; then
    ip netns exec "$r" nft -f - <<NFT
table netdev fo {
  chain in {
    type filter hook ingress device "fo$$b" priority 0;
    ip saddr 198.18.0.1 udp dport 7500 numgen random mod 100 < $drop counter drop
  }
}
NFT
    [ $? -eq 0 ] || { echo "fec-lab: nft failed" >&2; exit 1; }
fi
ip netns exec "$s" tcpdump -i "fo$$a" -U -s 0 -w "$out/wire.pcap" 'udp port 7500 or (ip[6:2] & 0x1fff != 0)' 2>"$out/tcpdump.err" &
dump=$!
sleep 1
head -c "$bytes" /dev/urandom >"$out/sent"
ip netns exec "$r" timeout 60 ${RECV_PEER:-$peer} recv --network "198.18.0.2;239.192.70.1" --udp 7500 --timeout 8 \
    --bytes "$bytes" ${RECV_ARGS-"$@"} >"$out/received" 2>"$out/recv.err" &
receiver=$!
if [ -n "${NAKS:-}" ]; then
    # shellcheck disable=SC2086  # AFTER_SQN and the NAKs are words
    ip netns exec "$r" python3 "$(dirname "$0")/fec-nak.py" 198.18.0.2 239.192.70.1 7500 $NAKS 2>"$out/nak.err" &
    nak=$!
fi
sleep 0.5
ip netns exec "$s" timeout 60 ${SEND_PEER:-$peer} send --network "198.18.0.1;239.192.70.1" --udp 7500 --rate 2000000 \
    --linger 4 "$@" <"$out/sent" 2>"$out/send.err"
sent_code=$?
wait "$receiver"
recv_code=$?
[ -n "${nak:-}" ] && wait "$nak"
sleep 0.5
kill "$dump"; wait "$dump" 2>/dev/null; dump=
[ "$drop" -gt 0 ] && ip netns exec "$r" nft list table netdev fo | grep -o 'packets [0-9]*' | sed 's/^/dropped /' >"$out/dropped"
if cmp -s "$out/sent" "$out/received"; then same=byte-exact; else same="differs ($(stat -c %s "$out/received") of $bytes bytes)"; fi
echo "send $sent_code recv $recv_code $same" | tee "$out/result"
