/*
 * norm-peer: a minimal NORM (RFC 5740, Debian libnorm 1.5) sender or receiver of one file, for Tools/bench's
 * congestion table beside pgm-source and OpenPGM's PGMCC.
 *
 *   norm-peer send --address GROUP --port P --interface IF --node N [--rate BITS/S] [--cc 0|1] [--acker NODE]
 *                  [--timeout S] < data
 *   norm-peer recv --address GROUP --port P --interface IF --node N [--timeout S] > data
 *
 * send: reads all of stdin into memory and sends it as one NORM_OBJECT_DATA (segments of 1400 bytes, blocks of
 *       64, no parity: repairs are retransmissions, as in PGM without FEC). --cc 1 (default) turns NORM-CC on
 *       (NormSetCongestionControl, RFC 5740 section 5.5.2, TFRC-like) with --rate as the ceiling
 *       (NormSetTxRateBounds); --cc 0 sends at --rate. With --acker NODE it sets a watermark on the object and
 *       exits once that receiver acknowledged it (NORM_TX_WATERMARK_COMPLETED with NORM_ACK_SUCCESS), so its end
 *       is known and not a guessed linger; without it, after NORM_TX_FLUSH_COMPLETED.
 * recv: writes the object to stdout when complete, keeps answering the sender for 2 s more (the watermark's
 *       ACK request comes after the data), exits 0; 1 after --timeout seconds without an event.
 * At exit each side prints one JSON line on stderr, like the other peers:
 *   receiver {"type":"summary","messages":1,"bytes":B,"data_seconds":S}  (S: first to last data segment event)
 *   sender   {"type":"summary","bytes":B,"seconds":S,"final_rate_bps":R,"acked":true|false}
 * Exit codes: 0 done, 1 timeout or failure, 64 usage.
 *
 * C++ only because normApi.h is (references, default arguments); the code is plain C otherwise.
 * Build: Tools/norm-peer/build OUTPUT (libnorm-dev ships only static libraries, linked with pkg-config --static).
 */
#include <normApi.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void) {
    fprintf(stderr, "usage: norm-peer send|recv --address GROUP --port P --interface IF --node N [--rate BITS/S] "
                    "[--cc 0|1] [--acker NODE] [--timeout S]\n");
    exit(64);
}

/* Waits up to `seconds` for the next event; false when none came. */
static bool next_event(NormInstanceHandle instance, NormEvent *event, double seconds) {
    struct pollfd fd = {.fd = NormGetDescriptor(instance), .events = POLLIN};
    int ready = poll(&fd, 1, (int)(seconds * 1000));
    if (ready <= 0) return false;
    return NormGetNextEvent(instance, event, true);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    bool sending = strcmp(argv[1], "send") == 0;
    if (!sending && strcmp(argv[1], "recv") != 0) usage();
    const char *address = NULL, *interface = NULL;
    int port = 0, cc = 1;
    unsigned node = 0, acker = 0;
    double rate = 100e6, timeout = 20;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *value = argv[++i];
        if (!strcmp(argv[i - 1], "--address")) address = value;
        else if (!strcmp(argv[i - 1], "--port")) port = atoi(value);
        else if (!strcmp(argv[i - 1], "--interface")) interface = value;
        else if (!strcmp(argv[i - 1], "--node")) node = (unsigned)strtoul(value, NULL, 10);
        else if (!strcmp(argv[i - 1], "--rate")) rate = atof(value);
        else if (!strcmp(argv[i - 1], "--cc")) cc = atoi(value) != 0;
        else if (!strcmp(argv[i - 1], "--acker")) acker = (unsigned)strtoul(value, NULL, 10);
        else if (!strcmp(argv[i - 1], "--timeout")) timeout = atof(value);
        else usage();
    }
    if (!address || !interface || port <= 0 || port > 65535 || node == 0 || rate <= 0 || timeout <= 0) usage();

    NormInstanceHandle instance = NormCreateInstance(false);
    if (instance == NORM_INSTANCE_INVALID) { fprintf(stderr, "norm-peer: NormCreateInstance failed\n"); return 1; }
    NormSessionHandle session = NormCreateSession(instance, address, (UINT16)port, node);
    if (session == NORM_SESSION_INVALID) { fprintf(stderr, "norm-peer: NormCreateSession failed\n"); return 1; }
    NormSetRxPortReuse(session, true, NULL, NULL, 0);
    if (!NormSetMulticastInterface(session, interface)) {
        fprintf(stderr, "norm-peer: no interface %s\n", interface);
        return 1;
    }
    NormSetMulticastLoopback(session, false);
    int code = 0;
    if (sending) {
        size_t capacity = 1 << 20, size = 0;
        char *data = (char *)malloc(capacity);
        for (;;) {
            if (size == capacity) data = (char *)realloc(data, capacity *= 2);
            ssize_t got = read(0, data + size, capacity - size);
            if (got <= 0) break;
            size += (size_t)got;
        }
        if (size == 0 || size > 0xFFFFFFFFu) { fprintf(stderr, "norm-peer: nothing to send\n"); return 1; }
        NormSetTxRate(session, cc ? rate / 100 : rate);  /* with NORM-CC a start, which slow start raises */
        if (cc) {
            NormSetCongestionControl(session, true, true);
            NormSetTxRateBounds(session, -1, rate);
        }
        if (acker) NormAddAckingNode(session, acker);
        /* Buffer space for the whole object plus headroom: repairs come from the sender's buffer. */
        if (!NormStartSender(session, (NormSessionId)NormGetRandomSessionId(), (UINT32)(size + (16u << 20)), 1400,
                             64, 0, 0)) {
            fprintf(stderr, "norm-peer: NormStartSender failed\n");
            return 1;
        }
        fprintf(stderr, "norm-peer: joined\n");
        double start = now_seconds();
        NormObjectHandle object = NormDataEnqueue(session, data, (UINT32)size, NULL, 0);
        if (object == NORM_OBJECT_INVALID) { fprintf(stderr, "norm-peer: NormDataEnqueue failed\n"); return 1; }
        if (acker) NormSetWatermark(session, object, true);
        bool done = false, acked = false;
        double last = now_seconds();
        while (!done) {
            NormEvent event;
            if (!next_event(instance, &event, 0.5)) {
                if (now_seconds() - last > timeout) { fprintf(stderr, "norm-peer: timeout\n"); code = 1; break; }
                continue;
            }
            last = now_seconds();
            switch (event.type) {
            case NORM_TX_WATERMARK_COMPLETED:
                acked = NormGetAckingStatus(session, acker) == NORM_ACK_SUCCESS;
                if (!acked) {  /* the receiver did not answer yet: ask again */
                    NormSetWatermark(session, object, true);
                    break;
                }
                done = true;
                break;
            case NORM_TX_FLUSH_COMPLETED:
                if (!acker) done = true;
                break;
            default:
                break;
            }
        }
        double seconds = now_seconds() - start;
        fprintf(stderr, "{\"type\":\"summary\",\"bytes\":%zu,\"seconds\":%.6f,\"final_rate_bps\":%.0f,\"acked\":%s}\n",
                size, seconds, NormGetTxRate(session), acked ? "true" : "false");
        NormStopSender(session);
        free(data);
    } else {
        if (!NormStartReceiver(session, 64u << 20)) { fprintf(stderr, "norm-peer: NormStartReceiver failed\n"); return 1; }
        NormSetRxSocketBuffer(session, 8u << 20);
        fprintf(stderr, "norm-peer: joined\n");
        double last = now_seconds(), first_data = 0, last_data = 0, completed = 0;
        long long bytes = 0;
        for (;;) {
            if (completed > 0 && now_seconds() - completed > 2) break;
            NormEvent event;
            if (!next_event(instance, &event, 0.2)) {
                if (completed == 0 && now_seconds() - last > timeout) {
                    fprintf(stderr, "norm-peer: timeout\n");
                    code = 1;
                    break;
                }
                continue;
            }
            last = now_seconds();
            if (event.type == NORM_RX_OBJECT_NEW || event.type == NORM_RX_OBJECT_UPDATED) {
                if (first_data == 0) first_data = last;
                last_data = last;
            } else if (event.type == NORM_RX_OBJECT_COMPLETED && completed == 0 &&
                       NormObjectGetType(event.object) == NORM_OBJECT_DATA) {
                last_data = last;
                bytes = (long long)NormObjectGetSize(event.object);
                const char *data = NormDataAccessData(event.object);
                if (fwrite(data, 1, (size_t)bytes, stdout) != (size_t)bytes) code = 1;
                fflush(stdout);
                completed = last;
            } else if (event.type == NORM_RX_OBJECT_ABORTED) {
                fprintf(stderr, "norm-peer: object aborted\n");
                code = 3;
                break;
            }
        }
        fprintf(stderr, "{\"type\":\"summary\",\"messages\":%d,\"bytes\":%lld,\"data_seconds\":%.6f}\n",
                completed > 0 ? 1 : 0, bytes, last_data - first_data);
        NormStopReceiver(session);
    }
    NormDestroySession(session);
    NormDestroyInstance(instance);
    return code;
}
