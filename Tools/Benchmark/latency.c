/*
 * latency: one-way latency probe for Tools/bench. `gen` feeds a sender's standard input with timestamped
 * messages at a fixed rate, `sink` reads a receiver's standard output and measures how long each took, so the
 * same pair measures pgm-source -> pgm-recv, the OpenPGM peer and plain UDP without touching their code.
 * Both ends run on one machine, so CLOCK_MONOTONIC is one clock (network namespaces share it).
 *
 *   latency gen  --size S --rate MSGS_PER_S --count N [--delay SECONDS]   > sender's stdin
 *   latency sink --size S [--count N]                                     < receiver's stdout
 *
 * Each message is S bytes (S >= 16): 8 bytes CLOCK_MONOTONIC nanoseconds, 8 bytes sequence number (both host
 * order), zero padding. gen sleeps --delay seconds first (the sender's start-up), then writes message i at
 * start + i/rate (absolute deadlines, so a late wake-up does not shift the rest). sink reads until EOF or
 * --count messages and prints one JSON line on stdout: count, missing/reordered sequence numbers, and
 * p50/p99/p99.9/max of now - timestamp in microseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(void) {
    fprintf(stderr, "usage: latency gen --size S --rate MSGS_PER_S --count N [--delay S] | "
                    "latency sink --size S [--count N]\n");
    exit(64);
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_us(const uint64_t *sorted, long n, double p) {
    if (n == 0) return 0;
    long i = (long)(p * (double)(n - 1) + 0.5);
    return (double)sorted[i] / 1000.0;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    int generating = !strcmp(argv[1], "gen");
    if (!generating && strcmp(argv[1], "sink")) usage();
    long size = 64, count = -1;
    double rate = 10000, delay = 0;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(argv[i - 1], "--size")) size = atol(v);
        else if (!strcmp(argv[i - 1], "--rate")) rate = atof(v);
        else if (!strcmp(argv[i - 1], "--count")) count = atol(v);
        else if (!strcmp(argv[i - 1], "--delay")) delay = atof(v);
        else usage();
    }
    if (size < 16 || rate <= 0 || (generating && count < 1)) usage();
    char *buf = calloc(1, (size_t)size);

    if (generating) {
        uint64_t start = now_ns() + (uint64_t)(delay * 1e9);
        for (uint64_t seq = 0; seq < (uint64_t)count; seq++) {
            uint64_t due = start + (uint64_t)((double)seq * 1e9 / rate);
            struct timespec ts = {.tv_sec = (time_t)(due / 1000000000u), .tv_nsec = (long)(due % 1000000000u)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
            uint64_t stamp = now_ns();
            memcpy(buf, &stamp, 8);
            memcpy(buf + 8, &seq, 8);
            for (long off = 0; off < size;) {  /* a pipe may take part of a message */
                ssize_t w = write(1, buf + off, (size_t)(size - off));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) return 1;
                off += w;
            }
        }
        return 0;
    }

    long cap = count > 0 ? count : 1 << 20, n = 0, gaps = 0;
    uint64_t *lat = malloc((size_t)cap * sizeof *lat), expected = 0;
    while (count < 0 || n < count) {
        long got = 0;
        while (got < size) {  /* short reads: a message may arrive in pieces */
            ssize_t r = read(0, buf + got, (size_t)(size - got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += r;
        }
        if (got < size) break;
        uint64_t t = now_ns(), stamp, seq;
        memcpy(&stamp, buf, 8);
        memcpy(&seq, buf + 8, 8);
        if (seq != expected) gaps++;
        expected = seq + 1;
        if (n == cap) lat = realloc(lat, (size_t)(cap *= 2) * sizeof *lat);
        lat[n++] = t - stamp;
    }
    qsort(lat, (size_t)n, sizeof *lat, compare);
    printf("{\"count\":%ld,\"sequence_gaps\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n",
           n, gaps, percentile_us(lat, n, 0.5), percentile_us(lat, n, 0.99), percentile_us(lat, n, 0.999),
           n ? (double)lat[n - 1] / 1000.0 : 0.0);
    return 0;
}
