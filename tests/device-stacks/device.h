/* What the device-stack clients share: the command line, reading credential files into RAM
 * (as firmware holds them), the TCP connection, the MQTT packets to send (given in hex by the
 * test, which encodes them with tether's own codec) and one packet read back for each, and the
 * one JSON line each client prints. It holds no TLS: each client drives its own library.
 *
 * Command line of every client:
 *   CLIENT CONFIG IP PORT SERVER_NAME|- CA_PEM CERT_PEM KEY_PEM [MQTT_PACKET_HEX ...]
 * SERVER_NAME is the host name a device would connect to (sent as SNI when the configuration
 * sends SNI, and checked against the server certificate); `-` means none.
 *
 * Output, one line: {"stack":..., "handshake":"ok"|"alert"|"error", "alert":N, "error":...,
 * "version":..., "suite":"0x....", "received":["hex",...]}. Exit 0 whenever it ran, 2 on bad
 * arguments. */
#ifndef DEVICE_H
#define DEVICE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct device_args {
    const char *config;
    const char *ip;
    int port;
    const char *server_name; /* NULL: none */
    char *ca;                /* PEM text, NUL-terminated */
    size_t ca_len;
    char *cert;
    size_t cert_len;
    char *key;
    size_t key_len;
    int npackets;
    unsigned char *packets[16];
    size_t packet_lens[16];
};

/* Reads a whole file into a NUL-terminated buffer; exits 2 when it cannot. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void parse_args(int argc, char **argv, struct device_args *a)
{
    if (argc < 8 || argc - 8 > 16) {
        fprintf(stderr, "usage: %s CONFIG IP PORT SERVER_NAME|- CA CERT KEY [HEX ...]\n", argv[0]);
        exit(2);
    }
    a->config = argv[1];
    a->ip = argv[2];
    a->port = atoi(argv[3]);
    a->server_name = strcmp(argv[4], "-") == 0 ? NULL : argv[4];
    a->ca = read_file(argv[5], &a->ca_len);
    a->cert = read_file(argv[6], &a->cert_len);
    a->key = read_file(argv[7], &a->key_len);
    a->npackets = argc - 8;
    for (int i = 0; i < a->npackets; i++) {
        const char *hex = argv[8 + i];
        size_t n = strlen(hex) / 2;
        a->packets[i] = malloc(n + 1);
        for (size_t j = 0; j < n; j++) {
            int hi = hexval(hex[2 * j]), lo = hexval(hex[2 * j + 1]);
            if (hi < 0 || lo < 0) {
                fprintf(stderr, "packet %d is not hex\n", i);
                exit(2);
            }
            a->packets[i][j] = (unsigned char)(hi << 4 | lo);
        }
        a->packet_lens[i] = n;
    }
}

/* A TCP connection to IP:PORT with a 20 s receive timeout, or -1. */
static int tcp_connect(const struct device_args *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)a->port);
    if (inet_pton(AF_INET, a->ip, &sa.sin_addr) != 1) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* The JSON line under construction. */
struct result {
    const char *stack;
    const char *handshake; /* "ok", "alert", "error" */
    int alert;             /* received fatal alert, or -1 */
    char error[256];
    char version[16];
    unsigned suite;
    int nreceived;
    char *received[16];
};

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        if ((unsigned char)*s < 0x20) {
            printf("\\u%04x", *s);
            continue;
        }
        putchar(*s);
    }
    putchar('"');
}

static void print_result(const struct result *r)
{
    printf("{\"stack\":");
    json_string(r->stack);
    printf(",\"handshake\":");
    json_string(r->handshake);
    if (r->alert >= 0) printf(",\"alert\":%d", r->alert);
    if (r->error[0]) {
        printf(",\"error\":");
        json_string(r->error);
    }
    if (r->version[0]) printf(",\"version\":\"%s\",\"suite\":\"0x%04X\"", r->version, r->suite);
    printf(",\"received\":[");
    for (int i = 0; i < r->nreceived; i++) printf("%s\"%s\"", i ? "," : "", r->received[i]);
    printf("]}\n");
    fflush(stdout);
}

/* Reads one MQTT packet through `read_fn` (the library's read: returns >0 bytes, or <=0 on
 * failure) and stores it as hex in `r`; returns 0 when a whole packet arrived. */
static int read_mqtt_packet(int (*read_fn)(void *, unsigned char *, size_t), void *ctx,
                            struct result *r)
{
    unsigned char buf[4096];
    size_t n = 0, want = 2;
    size_t header = 0, length = 0;
    while (n < want) {
        int got = read_fn(ctx, buf + n, want - n);
        if (got <= 0) return -1;
        n += (size_t)got;
        if (!header && n >= 2) {
            /* Remaining length: 1 to 4 bytes, 7 bits each. */
            size_t i = 1, shift = 0;
            length = 0;
            while (i < n) {
                length |= (size_t)(buf[i] & 0x7F) << shift;
                shift += 7;
                if (!(buf[i] & 0x80)) break;
                i++;
            }
            if (i < n && !(buf[i] & 0x80)) {
                header = i + 1;
                want = header + length;
                if (want > sizeof buf) return -1;
            } else {
                want = n + 1;
            }
        }
    }
    char *hex = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) sprintf(hex + 2 * i, "%02x", buf[i]);
    r->received[r->nreceived++] = hex;
    return 0;
}

#endif
