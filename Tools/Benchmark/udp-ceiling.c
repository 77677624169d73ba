/*
 * udp-ceiling: plain UDP multicast sender and receiver, used by Tools/bench as this machine's ceiling for
 * the PGM throughput rows (same group, sizes and counts, but no protocol: no headers, windows, NAKs or
 * checksums beyond the kernel's), and as the baseline of the latency rows.
 *
 *   udp-ceiling send --interface ADDR --group G [--port P] --size S --count N [--stdin]
 *   udp-ceiling recv --interface ADDR --group G [--port P] --size S --count N [--stdout] [--idle S]
 *
 * send: sendmmsg() in batches of 64 messages of S bytes, as fast as the kernel takes them, multicast loop on;
 *       with --stdin it reads S-byte messages from stdin and sends each at once (latency mode) until EOF.
 * recv: recvmmsg() until N messages arrived or --idle seconds (0.5) passed without one after the first; with
 *       --stdout it writes every message to stdout. Prints one JSON line on stderr:
 *       {"type":"summary","messages":M,"bytes":B,"data_seconds":first-to-last}.
 * Plain UDP drops what a full receive buffer cannot hold, so messages < N is expected at full speed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) { perror(what); exit(1); }

static void usage(void) {
    fprintf(stderr, "usage: udp-ceiling send|recv --interface ADDR --group G [--port P] --size S --count N "
                    "[--stdin|--stdout] [--idle S]\n");
    exit(64);
}

/* Reads exactly n bytes unless EOF comes first; returns what was read. */
static size_t read_full(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    int sending = !strcmp(argv[1], "send");
    if (!sending && strcmp(argv[1], "recv")) usage();
    const char *iface = "127.0.0.1", *group = "239.192.0.1";
    int port = 3056, size = 1400, use_stdio = 0;
    long count = 100000;
    double idle = 0.5;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--stdin") || !strcmp(argv[i], "--stdout")) { use_stdio = 1; continue; }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(argv[i - 1], "--interface")) iface = v;
        else if (!strcmp(argv[i - 1], "--group")) group = v;
        else if (!strcmp(argv[i - 1], "--port")) port = atoi(v);
        else if (!strcmp(argv[i - 1], "--size")) size = atoi(v);
        else if (!strcmp(argv[i - 1], "--count")) count = atol(v);
        else if (!strcmp(argv[i - 1], "--idle")) idle = atof(v);
        else usage();
    }
    if (size < 1 || size > 65000 || count < 1) usage();

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    struct in_addr ifaddr, gaddr;
    if (!inet_aton(iface, &ifaddr) || !inet_aton(group, &gaddr)) usage();
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = gaddr};
    char *buf = calloc(BATCH, (size_t)size);
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = buf + (size_t)i * size;
        iov[i].iov_len = (size_t)size;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        if (sending) { msgs[i].msg_hdr.msg_name = &dst; msgs[i].msg_hdr.msg_namelen = sizeof dst; }
    }

    if (sending) {
        unsigned char loop = 1, ttl = 1;
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr);
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
        if (use_stdio) {
            while (read_full(0, buf, (size_t)size) == (size_t)size)
                if (sendto(fd, buf, (size_t)size, 0, (struct sockaddr *)&dst, sizeof dst) < 0) die("sendto");
            return 0;
        }
        for (long sent = 0; sent < count;) {
            int n = count - sent < BATCH ? (int)(count - sent) : BATCH;
            for (int i = 0; i < n; i++) memcpy(iov[i].iov_base, &(long){sent + i}, sizeof(long));
            int done = sendmmsg(fd, msgs, (unsigned)n, 0);
            if (done < 0) die("sendmmsg");
            sent += done;
        }
        return 0;
    }

    int one = 1, rcvbuf = 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);  /* root; falls back to rmem_max */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in bind_addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = gaddr};
    if (bind(fd, (struct sockaddr *)&bind_addr, sizeof bind_addr) < 0) die("bind");
    struct ip_mreq mreq = {.imr_multiaddr = gaddr, .imr_interface = ifaddr};
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) die("IP_ADD_MEMBERSHIP");
    fprintf(stderr, "udp-ceiling: joined\n");  /* Tools/bench waits for this before starting the sender */

    long messages = 0;
    long long bytes = 0;
    double first = 0, last = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (messages < count) {
        /* Before the first message wait up to 30 s for the sender to start; after it, --idle ends the run. */
        int wait_ms = messages ? (int)(idle * 1000) : 30000;
        if (poll(&pfd, 1, wait_ms) <= 0) break;
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) continue;
        last = now();
        if (!messages) first = last;
        messages += n;
        for (int i = 0; i < n; i++) {
            bytes += msgs[i].msg_len;
            if (use_stdio && fwrite(iov[i].iov_base, 1, msgs[i].msg_len, stdout) != msgs[i].msg_len) die("write");
        }
        if (use_stdio) fflush(stdout);
    }
    fprintf(stderr, "{\"type\":\"summary\",\"messages\":%ld,\"bytes\":%lld,\"data_seconds\":%.6f}\n", messages, bytes,
            last - first);
    return 0;
}
