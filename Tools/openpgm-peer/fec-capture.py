#!/usr/bin/env python3
"""Reads an OpenPGM FEC capture (pcap from Tools/openpgm-peer/fec-lab.sh: Ethernet, IPv4, UDP-encapsulated PGM)
and prints what Docs/openpgm.md "FEC" reports, or writes a known-answer fixture for the codec tests.

  fec-capture.py packets WIRE.pcap              one JSON object per PGM packet (type, sqn, header options byte,
                                                checksum valid, options as hex, TSDU length, TSDU hex)
  fec-capture.py fixture WIRE.pcap K OUT.json   the first transmission group whose K data TSDUs and parity
                                                packets were all captured (identical parity packets once,
                                                with "copies"), with each parity packet checked
                                                against a Reed-Solomon encoding of the data (GF(2^8), 0x11d,
                                                OpenPGM's systematic Vandermonde generator, n 255) at every
                                                offset K..254: the offsets that reproduce it are recorded.

Plain Python, no packages: the fixture is the capture itself, decoded, so a test can compare byte for byte.
"""
import json
import struct
import sys

TYPES = {0x00: "SPM", 0x01: "POLL", 0x02: "POLR", 0x04: "ODATA", 0x05: "RDATA", 0x08: "NAK", 0x09: "NNAK",
         0x0A: "NCF", 0x0C: "SPMR", 0x0D: "ACK"}


def pcap_packets(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    link = struct.unpack(endian + "I", data[20:24])[0]
    offset = 24
    fragments = {}
    while offset + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        if link == 1:
            if struct.unpack(">H", frame[12:14])[0] != 0x0800:
                continue
            frame = frame[14:]
        ihl = (frame[0] & 0x0F) * 4
        if frame[9] != 17:
            continue
        flags = struct.unpack(">H", frame[6:8])[0]
        if flags & 0x3FFF:
            # An IP fragment (OpenPGM's parity can exceed the MTU): reassembled once the last piece is in.
            key = (frame[12:16], frame[4:6])
            pieces = fragments.setdefault(key, {})
            pieces[(flags & 0x1FFF) * 8] = frame[ihl:struct.unpack(">H", frame[2:4])[0]]
            if flags & 0x2000 or 0 not in pieces:
                continue
            whole, at = b"", 0
            while at in pieces:
                whole += pieces[at]
                at += len(pieces[at])
            if at != sum(len(p) for p in pieces.values()):
                continue
            del fragments[key]
            udp = whole
        else:
            udp = frame[ihl:]
        yield sec + frac / 1e6, ".".join(map(str, frame[12:16])), udp[8:]


def checksum_valid(pgm):
    if pgm[6:8] == b"\0\0":
        return True
    buffer = pgm[:6] + b"\0\0" + pgm[8:] + (b"\0" if len(pgm) % 2 else b"")
    total = sum(struct.unpack(">%dH" % (len(buffer) // 2), buffer))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    computed = (~total) & 0xFFFF or 0xFFFF
    return computed == struct.unpack(">H", pgm[6:8])[0]


def decode(pgm):
    sport, dport, kind, options, _, tsdu = struct.unpack(">HHBBH6xH", pgm[:16])
    packet = {"type": TYPES.get(kind, hex(kind)), "sport": sport, "dport": dport, "options": options,
              "header_hex": pgm[:16].hex(),
              "checksum_valid": checksum_valid(pgm)}
    fixed = {0x00: 36, 0x04: 24, 0x05: 24, 0x08: 36, 0x0A: 36, 0x0C: 16}.get(kind, 16)
    if kind in (0x00, 0x04, 0x05, 0x08, 0x0A):
        packet["sqn"] = struct.unpack(">I", pgm[16:20])[0]
    if kind in (0x04, 0x05):
        packet["trail"] = struct.unpack(">I", pgm[20:24])[0]
    if kind == 0x00:
        packet["trail"], packet["lead"] = struct.unpack(">II", pgm[20:28])
    end = fixed
    packet["option_list"] = []
    if options & 0x01 and len(pgm) >= fixed + 4:
        total = struct.unpack(">H", pgm[fixed + 2:fixed + 4])[0]
        end = fixed + total
        at = fixed + 4
        while at + 2 <= end:
            opt_type, opt_length = pgm[at], pgm[at + 1]
            packet["option_list"].append({"type": opt_type & 0x7F, "end": bool(opt_type & 0x80),
                                          "hex": pgm[at:at + opt_length].hex()})
            if opt_type & 0x80 or opt_length == 0:
                break
            at += opt_length
        packet["options_hex"] = pgm[fixed:end].hex()
    if kind in (0x04, 0x05):
        packet["tsdu_length"] = tsdu
        packet["tsdu"] = pgm[end:end + tsdu].hex()
    return packet


# GF(2^8) with OpenPGM's primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), alpha = 2.
EXP = [0] * 512
LOG = [0] * 256
value = 1
for power in range(255):
    EXP[power] = value
    LOG[value] = power
    value <<= 1
    if value & 0x100:
        value ^= 0x11D
for power in range(255, 512):
    EXP[power] = EXP[power - 255]


def mul(a, b):
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]


def inverse(matrix):
    size = len(matrix)
    rows = [list(row) + [int(i == j) for j in range(size)] for i, row in enumerate(matrix)]
    for column in range(size):
        pivot = next(r for r in range(column, size) if rows[r][column])
        rows[column], rows[pivot] = rows[pivot], rows[column]
        scale = EXP[255 - LOG[rows[column][column]]]
        rows[column] = [mul(x, scale) for x in rows[column]]
        for r in range(size):
            if r != column and rows[r][column]:
                factor = rows[r][column]
                rows[r] = [x ^ mul(factor, y) for x, y in zip(rows[r], rows[column])]
    return [row[size:] for row in rows]


def generator(n, k):
    """OpenPGM's pgm_rs_create: V (n rows of k) has row 0 = (1, 0, ..., 0) and row r >= 1 = alpha^(i (r - 1)),
    and the parity rows of the systematic generator are V[k:] x V[:k]^-1."""
    vandermonde = [[1] + [0] * (k - 1)] + [[EXP[(i * j) % 255] for i in range(k)] for j in range(n - 1)]
    inverted = inverse(vandermonde[:k])
    rows = [[int(i == j) for j in range(k)] for i in range(k)]
    for row in vandermonde[k:]:
        rows.append([0] * k)
        for c in range(k):
            for x in range(k):
                rows[-1][c] ^= mul(row[x], inverted[x][c])
    return rows


def encode(rows, offset, sources):
    out = bytearray(len(sources[0]))
    for coefficient, source in zip(rows[offset], sources):
        if coefficient:
            for index, byte in enumerate(source):
                out[index] ^= mul(coefficient, byte)
    return bytes(out)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "packets":
        for time, source, payload in pcap_packets(sys.argv[2]):
            packet = decode(payload)
            packet["time"], packet["ip_source"] = round(time, 6), source
            print(json.dumps(packet))
        return
    if len(sys.argv) != 5 or sys.argv[1] != "fixture":
        sys.exit(__doc__)
    k = int(sys.argv[3])
    packets = [decode(payload) for _, _, payload in pcap_packets(sys.argv[2])]
    data = {p["sqn"]: p for p in packets if p["type"] in ("ODATA", "RDATA") and not p["options"] & 0x80}
    parity = [p for p in packets if p["type"] in ("ODATA", "RDATA") and p["options"] & 0x80]
    spm = next((p for p in packets if p["type"] == "SPM" and p["option_list"]), None)
    rows = generator(255, k)
    for tg in sorted({p["sqn"] & ~(k - 1) for p in parity}):
        group = [data.get(tg + i) for i in range(k)]
        mine = [p for p in parity if p["sqn"] & ~(k - 1) == tg]
        if None in group or not mine:
            continue
        length = max(p["tsdu_length"] for p in group)
        var = any(p["tsdu_length"] != length for p in group)
        sources = []
        for p in group:
            tsdu = bytes.fromhex(p["tsdu"]).ljust(length, b"\0")
            sources.append(tsdu + (struct.pack("<H", p["tsdu_length"]) if var else b""))
        for p in mine:
            payload = bytes.fromhex(p["tsdu"])
            p["rs_offsets_reproducing_tsdu"] = [o for o in range(k, 255) if encode(rows, o, sources) == payload]
            if var:
                p["rs_offsets_reproducing_tsdu_big_endian_length"] = [
                    o for o in range(k, 255)
                    if encode(rows, o, [s[:-2] + s[-2:][::-1] for s in sources]) == payload]
            fragment = [o for o in (p["option_list"] or []) if o["type"] == 0x01]
            if fragment:
                # RFC 3208 A.4 encodes the option from byte 3 on; OpenPGM (txw.c) only bytes 6..15. Both checked.
                for start in (3, 6):
                    encoded = bytes.fromhex(fragment[0]["hex"])[start:]
                    option_sources = []
                    for d in group:
                        own = [o for o in d["option_list"] if o["type"] == 0x01]
                        null = (b"\x80" + b"\0" * 15)[start - 3:16 - 3]
                        option_sources.append(bytes.fromhex(own[0]["hex"])[start:] if own else null)
                    p["rs_offsets_reproducing_opt_fragment_bytes_%d_to_15" % start] = [
                        o for o in range(k, 255) if encode(rows, o, option_sources) == encoded]
        distinct = []
        for p in mine:
            twin = next((d for d in distinct if (d["sqn"], d["options"], d["tsdu"], d["option_list"]) ==
                         (p["sqn"], p["options"], p["tsdu"], p["option_list"])), None)
            if twin:
                twin["copies"] += 1
            else:
                p["copies"] = 1
                distinct.append(p)
        mine = distinct
        fixture = {"source": "OpenPGM 5.3.128 (Debian libpgm), see README.md", "k": k, "n": 255,
                   "tg_sqn": tg, "variable_length": var, "spm_options_hex": spm and spm.get("options_hex"),
                   "data": [{key: p[key] for key in ("sqn", "options", "option_list", "tsdu_length", "tsdu")}
                            for p in group],
                   "parity": [{key: p.get(key) for key in ("type", "copies", "sqn", "header_hex", "options",
                                                           "checksum_valid",
                                                           "option_list", "tsdu_length", "tsdu",
                                                           "rs_offsets_reproducing_tsdu",
                                                           "rs_offsets_reproducing_tsdu_big_endian_length",
                                                           "rs_offsets_reproducing_opt_fragment_bytes_3_to_15",
                                                           "rs_offsets_reproducing_opt_fragment_bytes_6_to_15")
                               if key in p} for p in mine]}
        json.dump(fixture, open(sys.argv[4], "w"), indent=1)
        print("group %d: %d data, %d distinct parity, offsets %s" % (tg, k, len(mine),
                                                             [p["rs_offsets_reproducing_tsdu"] for p in mine]))
        return
    sys.exit("no complete group with parity in the capture")


main()
