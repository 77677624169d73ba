#!/usr/bin/env python3
"""Sends parity NAKs (RFC 3208 A.3: header flag OPT_PARITY 0x80, SQN = TG_SQN | (count - 1)) to an OpenPGM source,
to see how it answers (Docs/openpgm.md "FEC"). Runs beside an OpenPGM receiver, in the receiver's namespace:

  fec-nak.py LOCAL_ADDR GROUP PORT AFTER_SQN NAK [NAK...]     NAK = TG_SQN:COUNT (e.g. 0:2), or wait:SECONDS

Joins GROUP on PORT (SO_REUSEPORT, so the OpenPGM receiver keeps its copy), learns the session (GSI, source port,
source NLA) from the first SPM, waits until ODATA AFTER_SQN has gone by, then sends each NAK once, unicast to the
SPM's path NLA, 0.3 s apart, and exits 3 s later. Bounded: gives up after 30 s without the SPM or the ODATA.
"""
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF or 0xFFFF


def main():
    local, group, port, after = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    naks = [nak.split(":") for nak in sys.argv[5:]]
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("0.0.0.0", port))
    listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                        socket.inet_aton(group) + socket.inet_aton(local))
    listener.settimeout(1)
    session = None
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            pgm, _ = listener.recvfrom(65536)
        except socket.timeout:
            continue
        kind = pgm[4]
        if kind == 0x00 and session is None:
            sport, gsi, path = pgm[0:2], pgm[8:14], socket.inet_ntoa(pgm[32:36])
            session = (sport, gsi, path)
            print("fec-nak: SPM from %s, gsi %s, sport %d" % (path, gsi.hex(), struct.unpack(">H", sport)[0]),
                  file=sys.stderr)
        if kind == 0x04 and session and struct.unpack(">I", pgm[16:20])[0] >= after:
            break
    else:
        sys.exit("fec-nak: no SPM or no ODATA %d within 30 s" % after)
    sport, gsi, path = session
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind((local, 0))
    for first, second in naks:
        if first == "wait":
            time.sleep(min(float(second), 10))
            continue
        tg_sqn, count = int(first), int(second)
        body = struct.pack(">IHH4sHH4s", tg_sqn | (count - 1), 1, 0, socket.inet_aton(path), 1, 0,
                           socket.inet_aton(group))
        header = struct.pack(">2s2sBBH6sH", struct.pack(">H", port), sport, 0x08, 0x80, 0, gsi, 0)
        packet = bytearray(header + body)
        packet[6:8] = struct.pack(">H", checksum(bytes(packet)))
        sender.sendto(bytes(packet), (path, port))
        print("fec-nak: parity NAK sqn %d (tg %d count %d)" % (tg_sqn | (count - 1), tg_sqn, count),
              file=sys.stderr)
        time.sleep(0.3)
    time.sleep(3)


main()
