/*
 * openpgm-peer: a minimal OpenPGM (Debian libpgm 5.3) sender or receiver, for interop tests with
 * pgm-source and pgm-recv.
 *
 *   peer send --network "ADDR;GROUP" [--port 7500] [--udp PORT] [--rate BYTES/S] [--apdu BYTES] [--linger S] < data
 *   peer recv --network "ADDR;GROUP" [--port 7500] [--udp PORT] [--timeout S] [--bytes N] [--messages N]
 *             [--drain S] > data
 *   common: [--loop 1] turns PGM_MULTICAST_LOOP on (default off), so peers can share a host or namespace;
 *   [--rcvbuf BYTES] sets SO_RCVBUF on OpenPGM's receive socket (pgm_setsockopt at SOL_SOCKET; capped by
 *   net.core.rmem_max; default: the kernel's 208 KiB, with which a receiver on lo at full speed overflows and
 *   stalls), so a benchmark can give OpenPGM a buffer like pgm-recv's 8 MiB.
 *
 * send: reads stdin in APDUs of --apdu bytes, sends them, then keeps calling pgm_recv() for --linger seconds,
 *       because OpenPGM only sends queued repairs from inside pgm_recv() (Docs/openpgm.md). --send-drive 0 skips
 *       the pgm_recv() calls between APDUs (repairs and parity then wait until the last APDU is sent, and the
 *       linger calls it back to back while it has work, see drive()): with proactive FEC, libpgm crashes in
 *       pgm_recv() while a transmission group is incomplete (Docs/openpgm.md).
 * recv: writes every delivered APDU to stdout; exits 0 on PGM_IO_STATUS_FIN (or after --bytes bytes), 3 on
 *       an unrecoverable loss (PGM_IO_STATUS_RESET), 1 after --timeout seconds without data; --messages N
 *       also stops after N APDUs; --drain S keeps reading for S seconds after --bytes/--messages are reached
 *       (packets a sender makes after its data, such as OpenPGM's proactive parity with --send-drive 0, then
 *       still cost the receiver its CPU time, as they would in a longer session). stdout is flushed whenever no data is waiting, so latency stays low and
 *       bursts are still written in large blocks. At exit it prints on stderr one JSON line for Tools/bench:
 *       {"type":"summary","messages":N,"bytes":B,"data_seconds":S} (S: first to last delivered APDU).
 * --pgmcc 1 turns OpenPGM's PGMCC on (PGM_USE_PGMCC): a sender runs its congestion window (pgm_send() then
 *       also returns PGM_IO_STATUS_CONGESTION, waited out like the rate limit), a receiver ACKs when elected.
 * --udp PORT selects UDP encapsulation with PORT for unicast and multicast; without it, native PGM (root).
 * --apdu N[,N...] with more than one size sends APDUs of those sizes in turn (variable-size TSDUs for FEC).
 * FEC (PGM_USE_FEC, RFC 3208 Appendix A), either role, set before bind: --fec-group-size K turns it on with
 *       transmission group size K (2..128, a power of 2); --fec-proactive H proactive parity packets per group
 *       (default 0); --fec-ondemand 0|1 on-demand parity (default 0); --fec-var-pktlen 0|1 variable-size groups
 *       (default 0); --fec-block-size N the RS block size n (default 255). A setting libpgm refuses (measured:
 *       H > n - K, or n < K) is reported and the peer exits 2. A FEC sender sizes its window in seconds (see
 *       below). What OpenPGM then does, crashes included: Docs/openpgm.md "FEC".
 *
 * Build: Tools/openpgm-peer/build OUTPUT (the one set of flags every user of the peer shares).
 *
 * Debian's pgm_compat_csum_partial_copy() makes an aligned 16-byte SSE store into a destination that is not
 * aligned for fragments, so any APDU larger than one TSDU crashes the sender (Docs/openpgm.md). The library calls it
 * through its PLT, so the definition below, exported from the executable, replaces it: copy, then checksum the
 * copy with the library's own pgm_compat_csum_partial().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pgm/pgm.h>

uint32_t pgm_compat_csum_partial(const void *addr, uint16_t len, uint32_t csum);

uint32_t pgm_compat_csum_partial_copy(const void *src, void *dst, uint16_t len, uint32_t csum) {
    memcpy(dst, src, len);
    return pgm_compat_csum_partial(dst, len, csum);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps until the socket is readable, for at most `most_ms` milliseconds, or less when pgm_recv() said
 * (`status`) that OpenPGM's timer or rate limiter is due sooner. */
static void wait_for_socket(pgm_sock_t *sock, int status, int most_ms) {
    struct pollfd fds[8];
    int n = 8;
    memset(fds, 0, sizeof fds);
    pgm_poll_info(sock, fds, &n, POLLIN);
    int wait = most_ms;
    if (status == PGM_IO_STATUS_TIMER_PENDING || status == PGM_IO_STATUS_RATE_LIMITED) {
        struct timeval tv;
        socklen_t len = sizeof tv;
        pgm_getsockopt(sock, IPPROTO_PGM, status == PGM_IO_STATUS_TIMER_PENDING ? PGM_TIME_REMAIN : PGM_RATE_REMAIN,
                       &tv, &len);
        int remain = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
        if (remain < wait) wait = remain;
    }
    poll(fds, n, wait);
}

/* OpenPGM's default log handler prints to stdout ("Warn: Interface lo reports as a loopback device."), which
 * would corrupt the data a receiver writes there: send the library's messages to stderr. */
static void log_to_stderr(const int level, const char *message, void *closure) {
    (void)level;
    (void)closure;
    fprintf(stderr, "peer: openpgm: %s\n", message);
}

static void usage(void) {
    fprintf(stderr, "usage: peer send|recv --network \"ADDR;GROUP\" [--port P] [--udp PORT] [--rate B/S] [--apdu N] "
                    "[--linger S] [--timeout S] [--bytes N] [--messages N] [--drain S] [--loop 0|1] [--rcvbuf B] [--pgmcc 0|1]\n"
                    "       [--fec-group-size K] [--fec-proactive H] [--fec-ondemand 0|1] [--fec-var-pktlen 0|1] "
                    "[--fec-block-size N] [--send-drive 0|1]\n"
                    "       (--apdu takes N or N,N,... sizes used in turn)\n");
    exit(64);
}

static void fail(const char *what, pgm_error_t *err) {
    fprintf(stderr, "peer: %s: %s\n", what, err && err->message ? err->message : "failed");
    exit(1);
}

/* Keeps the socket's timers and repairs going for up to `seconds`. Each call first drains what is pending
 * (NAKs to answer), also with `seconds` 0: the sender calls drive(sock, 0) after every APDU, and OpenPGM only
 * sends repairs from inside pgm_recv(). `back_to_back`: libpgm sends one queued repair or parity packet per
 * pgm_recv() call and its timer does not wake the caller for the next, so after a --send-drive 0 send (all
 * parity still queued: 100,000 packets for 200,000 APDUs with k 16) poll's 5 ms would stretch it over minutes.
 * Then a call that did work (took >= 3 us; measured on lo: a parity packet 5-20 us, an idle call < 1 us) is
 * followed at once by the next. */
static void drive(pgm_sock_t *sock, double seconds, bool back_to_back) {
    char buffer[65536];
    double end = now_seconds() + seconds;
    for (int turns = 0; turns < 1000000; turns++) {
        size_t bytes = 0;
        pgm_error_t *err = NULL;
        double started = now_seconds();
        int status = pgm_recv(sock, buffer, sizeof buffer, MSG_DONTWAIT, &bytes, &err);
        if (err) pgm_error_free(err);
        if (status == PGM_IO_STATUS_NORMAL) continue;
        double now = now_seconds();
        if (now >= end) return;
        if (back_to_back && now - started >= 3e-6) continue;
        wait_for_socket(sock, status, 5);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    bool sending = strcmp(argv[1], "send") == 0;
    if (!sending && strcmp(argv[1], "recv") != 0) usage();
    const char *network = NULL;
    int port = 7500, udp = 0, rate = 12500000, apdu = 22800, loop = 0, rcvbuf = 0, pgmcc = 0;
    int fec_k = 0, fec_h = 0, fec_ondemand = 0, fec_var = 0, fec_n = 255, send_drive = 1;
    int sizes[64], nsizes = 0;  /* --apdu N,N,...: the sizes of successive APDUs, in turn */
    double linger = 5, timeout = 20, drain = 0;
    long long expected = -1, expected_messages = -1;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *value = argv[++i];
        if (!strcmp(argv[i - 1], "--network")) network = value;
        else if (!strcmp(argv[i - 1], "--port")) port = atoi(value);
        else if (!strcmp(argv[i - 1], "--udp")) udp = atoi(value);
        else if (!strcmp(argv[i - 1], "--rate")) rate = atoi(value);
        else if (!strcmp(argv[i - 1], "--apdu")) {
            nsizes = 0;
            for (const char *p = value; *p && nsizes < 64; p = strchr(p, ',') ? strchr(p, ',') + 1 : "") {
                sizes[nsizes] = atoi(p);
                if (sizes[nsizes] <= 0) usage();
                if (sizes[nsizes] > apdu || nsizes == 0) apdu = sizes[nsizes];
                nsizes++;
            }
        }
        else if (!strcmp(argv[i - 1], "--linger")) linger = atof(value);
        else if (!strcmp(argv[i - 1], "--timeout")) timeout = atof(value);
        else if (!strcmp(argv[i - 1], "--bytes")) expected = atoll(value);
        else if (!strcmp(argv[i - 1], "--messages")) expected_messages = atoll(value);
        else if (!strcmp(argv[i - 1], "--drain")) drain = atof(value);
        else if (!strcmp(argv[i - 1], "--loop")) loop = atoi(value) != 0;
        else if (!strcmp(argv[i - 1], "--rcvbuf")) rcvbuf = atoi(value);
        else if (!strcmp(argv[i - 1], "--pgmcc")) pgmcc = atoi(value) != 0;
        else if (!strcmp(argv[i - 1], "--fec-group-size")) fec_k = atoi(value);
        else if (!strcmp(argv[i - 1], "--fec-proactive")) fec_h = atoi(value);
        else if (!strcmp(argv[i - 1], "--fec-ondemand")) fec_ondemand = atoi(value) != 0;
        else if (!strcmp(argv[i - 1], "--fec-var-pktlen")) fec_var = atoi(value) != 0;
        else if (!strcmp(argv[i - 1], "--fec-block-size")) fec_n = atoi(value);
        else if (!strcmp(argv[i - 1], "--send-drive")) send_drive = atoi(value) != 0;
        else usage();
    }
    if (!network) usage();

    pgm_log_set_handler(log_to_stderr, NULL);
    pgm_error_t *err = NULL;
    if (!pgm_init(&err)) fail("pgm_init", err);
    struct pgm_addrinfo_t *res = NULL;
    if (!pgm_getaddrinfo(network, NULL, &res, &err)) fail("pgm_getaddrinfo", err);
    pgm_sock_t *sock = NULL;
    if (!pgm_socket(&sock, AF_INET, SOCK_SEQPACKET, udp ? IPPROTO_UDP : IPPROTO_PGM, &err)) fail("pgm_socket", err);
    if (udp) {
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_UDP_ENCAP_UCAST_PORT, &udp, sizeof udp);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_UDP_ENCAP_MCAST_PORT, &udp, sizeof udp);
    }
    const int one = 1, mtu = 1500, hops = 16;
    pgm_setsockopt(sock, IPPROTO_PGM, sending ? PGM_SEND_ONLY : PGM_RECV_ONLY, &one, sizeof one);
    pgm_setsockopt(sock, IPPROTO_PGM, PGM_MTU, &mtu, sizeof mtu);
    if (rcvbuf > 0 && !pgm_setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf))
        fprintf(stderr, "peer: SO_RCVBUF %d refused\n", rcvbuf);
    if (sending) {
        const int sqns = 65535, ambient = pgm_secs(30);
        const int heartbeat[] = {pgm_msecs(100), pgm_msecs(100), pgm_msecs(100), pgm_msecs(100), pgm_msecs(1300),
                                 pgm_secs(7),    pgm_secs(16),   pgm_secs(25),   pgm_secs(30)};
        /* With FEC the window must be sized in seconds: sized in sequence numbers, libpgm 5.3 allocates its
         * parity buffer with a TPDU size of 0 and aborts ("skput:over") on the first parity packet. */
        const int secs = 30;
        if (fec_k > 0) pgm_setsockopt(sock, IPPROTO_PGM, PGM_TXW_SECS, &secs, sizeof secs);
        else pgm_setsockopt(sock, IPPROTO_PGM, PGM_TXW_SQNS, &sqns, sizeof sqns);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_TXW_MAX_RTE, &rate, sizeof rate);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_AMBIENT_SPM, &ambient, sizeof ambient);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_HEARTBEAT_SPM, heartbeat, sizeof heartbeat);
    } else {
        const int sqns = 65535, expiry = pgm_secs(300), spmr = pgm_msecs(250), backoff = pgm_msecs(50),
                  repeat = pgm_msecs(250), rdata = pgm_msecs(250), retries = 50;
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_RXW_SQNS, &sqns, sizeof sqns);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_PEER_EXPIRY, &expiry, sizeof expiry);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_SPMR_EXPIRY, &spmr, sizeof spmr);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_NAK_BO_IVL, &backoff, sizeof backoff);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_NAK_RPT_IVL, &repeat, sizeof repeat);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_NAK_RDATA_IVL, &rdata, sizeof rdata);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_NAK_DATA_RETRIES, &retries, sizeof retries);
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_NAK_NCF_RETRIES, &retries, sizeof retries);
    }
    if (fec_k > 0) {
        /* Before bind: pgm_bind3 sizes the transmit window's parity buffers from these. */
        struct pgm_fecinfo_t fecinfo = {.block_size = (uint8_t)fec_n, .proactive_packets = (uint8_t)fec_h,
                                        .group_size = (uint8_t)fec_k, .ondemand_parity_enabled = fec_ondemand,
                                        .var_pktlen_enabled = fec_var};
        if (!pgm_setsockopt(sock, IPPROTO_PGM, PGM_USE_FEC, &fecinfo, sizeof fecinfo)) {
            fprintf(stderr, "peer: PGM_USE_FEC refused (n %d, k %d, h %d, on-demand %d, var-pktlen %d)\n", fec_n,
                    fec_k, fec_h, fec_ondemand, fec_var);
            return 2;
        }
    }
    struct pgm_sockaddr_t address;
    memset(&address, 0, sizeof address);
    address.sa_port = (uint16_t)port;
    address.sa_addr.sport = 0;
    char gsi_seed[64];
    snprintf(gsi_seed, sizeof gsi_seed, "%s/%d", network, (int)getpid());
    if (!pgm_gsi_create_from_string(&address.sa_addr.gsi, gsi_seed, -1)) fail("pgm_gsi_create_from_string", NULL);
    struct pgm_interface_req_t interface;
    memset(&interface, 0, sizeof interface);
    interface.ir_interface = res->ai_recv_addrs[0].gsr_interface;
    memcpy(&interface.ir_address, &res->ai_send_addrs[0].gsr_addr, sizeof interface.ir_address);
    if (!pgm_bind3(sock, &address, sizeof address, &interface, sizeof interface, &interface, sizeof interface, &err))
        fail("pgm_bind3", err);
    for (unsigned i = 0; i < res->ai_recv_addrs_len; i++)
        pgm_setsockopt(sock, IPPROTO_PGM, PGM_JOIN_GROUP, &res->ai_recv_addrs[i], sizeof(struct group_req));
    pgm_setsockopt(sock, IPPROTO_PGM, PGM_SEND_GROUP, &res->ai_send_addrs[0], sizeof(struct group_req));
    pgm_freeaddrinfo(res);
    pgm_setsockopt(sock, IPPROTO_PGM, PGM_MULTICAST_LOOP, &loop, sizeof loop);
    pgm_setsockopt(sock, IPPROTO_PGM, PGM_MULTICAST_HOPS, &hops, sizeof hops);
    /* A non-blocking send checks the rate for the whole APDU at once, and a bucket smaller than one APDU never
     * lets it through (RATE_LIMITED forever at 100 Mbit/s with 22.8 KB APDUs): the sender blocks in pgm_send()
     * instead, and pgm_recv() is called with MSG_DONTWAIT. */
    if (!sending) pgm_setsockopt(sock, IPPROTO_PGM, PGM_NOBLOCK, &one, sizeof one);
    if (pgmcc) {
        /* OpenPGM's PGMCC (PGM_USE_PGMCC, socket.h): the source runs its window, a receiver ACKs when elected
         * acker. The values are the library's own examples' (ACK back-off 50 ms, C 75, C' 500). Set on both
         * sides: a receiver without it never ACKs. */
        struct pgm_pgmccinfo_t pgmccinfo = {.ack_bo_ivl = pgm_msecs(50), .ack_c = 75, .ack_c_p = 500};
        if (!pgm_setsockopt(sock, IPPROTO_PGM, PGM_USE_PGMCC, &pgmccinfo, sizeof pgmccinfo))
            fprintf(stderr, "peer: PGM_USE_PGMCC refused\n");
    }
    if (!pgm_connect(sock, &err)) fail("pgm_connect", err);
    fprintf(stderr, "peer: joined\n");  /* tests wait for this before starting the other side */

    int code = 0;
    if (sending) {
        char *buffer = malloc((size_t)apdu);
        for (long long sent = 0;; sent++) {
            size_t filled = 0, want = (size_t)(nsizes > 1 ? sizes[sent % nsizes] : apdu);
            while (filled < want) {
                ssize_t got = read(0, buffer + filled, want - filled);
                if (got <= 0) break;
                filled += (size_t)got;
            }
            if (filled == 0) break;
            for (;;) {
                int status = pgm_send(sock, buffer, filled, NULL);
                if (status == PGM_IO_STATUS_NORMAL) break;
                /* CONGESTION: PGMCC's window is full until the acker's next ACK (or its timeout). */
                if (status != PGM_IO_STATUS_RATE_LIMITED && status != PGM_IO_STATUS_WOULD_BLOCK &&
                    status != PGM_IO_STATUS_CONGESTION) {
                    fprintf(stderr, "peer: pgm_send failed (%d)\n", status);
                    return 1;
                }
                if (send_drive) drive(sock, 0.001, false);
                else wait_for_socket(sock, status, 1);
            }
            if (send_drive) drive(sock, 0, false);
        }
        drive(sock, linger, !send_drive);
        free(buffer);
    } else {
        static char buffer[1 << 20];
        long long total = 0, messages = 0;
        double last = now_seconds(), first_data = 0, last_data = 0, drain_until = 0;
        for (;;) {
            size_t bytes = 0;
            int status = pgm_recv(sock, buffer, sizeof buffer, 0, &bytes, &err);
            if (err) { pgm_error_free(err); err = NULL; }
            if (status == PGM_IO_STATUS_NORMAL) {
                fwrite(buffer, 1, bytes, stdout);
                total += (long long)bytes;
                messages++;
                last = last_data = now_seconds();
                if (messages == 1) first_data = last;
                if ((expected >= 0 && total >= expected) || (expected_messages >= 0 && messages >= expected_messages)) {
                    if (drain <= 0) break;
                    if (drain_until == 0) drain_until = last + drain;
                }
                continue;
            }
            if (status == PGM_IO_STATUS_FIN) break;
            if (status == PGM_IO_STATUS_RESET) { fprintf(stderr, "peer: unrecoverable loss\n"); code = 3; continue; }
            if (drain_until > 0 && now_seconds() >= drain_until) break;
            if (now_seconds() - last > timeout) { fprintf(stderr, "peer: timeout after %lld bytes\n", total); code = 1; break; }
            fflush(stdout);  /* nothing to deliver now: hand over what is buffered before sleeping */
            wait_for_socket(sock, status, 20);
        }
        fflush(stdout);
        fprintf(stderr, "peer: received %lld bytes\n", total);
        fprintf(stderr, "{\"type\":\"summary\",\"messages\":%lld,\"bytes\":%lld,\"data_seconds\":%.6f}\n", messages,
                total, last_data - first_data);
    }
    pgm_close(sock, true);
    pgm_shutdown();
    return code;
}
