/* A device's TLS client built from BearSSL 0.6 (Debian libbearssl-dev), configured as the
 * ESP8266 Arduino core 2.5+ configures BearSSL::WiFiClientSecure, then MQTT over it (see
 * device.h for the command line and output). Configuration:
 *
 *   esp8266-arduino-bearssl  br_ssl_client_init_full: TLS 1.0 to 1.2 and BearSSL's full suite
 *                            list (the core's suites_P is that list, copied from
 *                            ssl_client_full.c); SNI with the host name passed to connect();
 *                            the trust anchors decoded from the CA in RAM (setTrustAnchors with
 *                            an X509List); the client certificate and key with setClientRSACert
 *                            or setClientECCert (RSA-2048 or P-256, chosen by the key); the
 *                            core's default buffers: 16 KB + 325 in, 512 + 85 out
 *                            (setBufferSizes not called); dates checked against the clock
 *                            (the device sets it with SNTP first). */
#include <bearssl.h>
#include <errno.h>

#include "device.h"

/* A decoded PEM object: its name ("CERTIFICATE", "PRIVATE KEY", ...) and DER bytes. */
struct pem_object {
    char name[128];
    unsigned char *der;
    size_t len;
    size_t cap;
};

static void pem_append(void *ctx, const void *data, size_t len)
{
    struct pem_object *o = ctx;
    if (o->len + len > o->cap) {
        o->cap = (o->len + len) * 2;
        o->der = realloc(o->der, o->cap);
    }
    memcpy(o->der + o->len, data, len);
    o->len += len;
}

/* Decodes every PEM object of `text`; returns how many (at most `max`). */
static int pem_decode(const char *text, size_t len, struct pem_object *out, int max)
{
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    int n = 0, inside = 0;
    while (len > 0) {
        size_t used = br_pem_decoder_push(&pc, text, len);
        text += used;
        len -= used;
        switch (br_pem_decoder_event(&pc)) {
        case BR_PEM_BEGIN_OBJ:
            if (n == max) return n;
            memset(&out[n], 0, sizeof out[n]);
            snprintf(out[n].name, sizeof out[n].name, "%s", br_pem_decoder_name(&pc));
            br_pem_decoder_setdest(&pc, pem_append, &out[n]);
            inside = 1;
            break;
        case BR_PEM_END_OBJ:
            if (inside) n++;
            inside = 0;
            break;
        case BR_PEM_ERROR:
            return n;
        }
    }
    return n;
}

struct dn {
    unsigned char *data;
    size_t len;
};

static void dn_append(void *ctx, const void *data, size_t len)
{
    struct dn *d = ctx;
    d->data = realloc(d->data, d->len + len);
    memcpy(d->data + d->len, data, len);
    d->len += len;
}

/* A trust anchor from one DER CA certificate (what X509List/setTrustAnchors builds). */
static int trust_anchor(const struct pem_object *o, br_x509_trust_anchor *ta)
{
    br_x509_decoder_context dc;
    struct dn dn = {0};
    br_x509_decoder_init(&dc, dn_append, &dn);
    br_x509_decoder_push(&dc, o->der, o->len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    if (!pk) return -1;
    ta->dn.data = dn.data;
    ta->dn.len = dn.len;
    ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
    ta->pkey.key_type = pk->key_type;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        ta->pkey.key.rsa.n = malloc(pk->key.rsa.nlen);
        memcpy(ta->pkey.key.rsa.n, pk->key.rsa.n, pk->key.rsa.nlen);
        ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
        ta->pkey.key.rsa.e = malloc(pk->key.rsa.elen);
        memcpy(ta->pkey.key.rsa.e, pk->key.rsa.e, pk->key.rsa.elen);
        ta->pkey.key.rsa.elen = pk->key.rsa.elen;
    } else {
        ta->pkey.key.ec.curve = pk->key.ec.curve;
        ta->pkey.key.ec.q = malloc(pk->key.ec.qlen);
        memcpy(ta->pkey.key.ec.q, pk->key.ec.q, pk->key.ec.qlen);
        ta->pkey.key.ec.qlen = pk->key.ec.qlen;
    }
    return 0;
}

static int sock_read(void *ctx, unsigned char *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(*(int *)ctx, buf, len, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return -1;
        }
        return (int)n;
    }
}

static int sock_write(void *ctx, const unsigned char *buf, size_t len)
{
    for (;;) {
        ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return -1;
        }
        return (int)n;
    }
}

static int io_read(void *ctx, unsigned char *buf, size_t len)
{
    return br_sslio_read((br_sslio_context *)ctx, buf, len);
}

static unsigned char ibuf[BR_SSL_BUFSIZE_INPUT];
static unsigned char obuf[512 + 85];

int main(int argc, char **argv)
{
    struct device_args a;
    parse_args(argc, argv, &a);
    struct result r = {.stack = a.config, .handshake = "error", .alert = -1};
    if (strcmp(a.config, "esp8266-arduino-bearssl") != 0) {
        fprintf(stderr, "unknown configuration %s\n", a.config);
        return 2;
    }
    struct pem_object ca[4], chain[4], key[1];
    int nca = pem_decode(a.ca, a.ca_len, ca, 4);
    int nchain = pem_decode(a.cert, a.cert_len, chain, 4);
    int nkey = pem_decode(a.key, a.key_len, key, 1);
    br_x509_trust_anchor tas[4];
    for (int i = 0; i < nca; i++) {
        if (trust_anchor(&ca[i], &tas[i]) != 0) {
            snprintf(r.error, sizeof r.error, "CA certificate %d cannot be decoded", i);
            print_result(&r);
            return 0;
        }
    }
    br_x509_certificate certs[4];
    for (int i = 0; i < nchain; i++) {
        certs[i].data = chain[i].der;
        certs[i].data_len = chain[i].len;
    }
    br_skey_decoder_context skey;
    br_skey_decoder_init(&skey);
    if (nkey == 1) br_skey_decoder_push(&skey, key[0].der, key[0].len);
    if (nca == 0 || nchain == 0 || nkey != 1 || br_skey_decoder_last_error(&skey) != 0) {
        snprintf(r.error, sizeof r.error, "credentials unreadable (%d CA, %d certificates, %d keys)",
                 nca, nchain, nkey);
        print_result(&r);
        return 0;
    }

    static br_ssl_client_context cc;
    static br_x509_minimal_context xc;
    br_ssl_client_init_full(&cc, &xc, tas, (size_t)nca);
    br_ssl_engine_set_buffers_bidi(&cc.eng, ibuf, sizeof ibuf, obuf, sizeof obuf);
    if (br_skey_decoder_key_type(&skey) == BR_KEYTYPE_RSA) {
        br_ssl_client_set_single_rsa(&cc, certs, (size_t)nchain, br_skey_decoder_get_rsa(&skey),
                                     br_rsa_pkcs1_sign_get_default());
    } else {
        br_ssl_client_set_single_ec(&cc, certs, (size_t)nchain, br_skey_decoder_get_ec(&skey),
                                    BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN, tas[0].pkey.key_type,
                                    br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
    }
    br_ssl_client_reset(&cc, a.server_name, 0);

    int fd = tcp_connect(&a);
    if (fd < 0) {
        snprintf(r.error, sizeof r.error, "cannot connect to %s:%d", a.ip, a.port);
        print_result(&r);
        return 0;
    }
    br_sslio_context io;
    br_sslio_init(&io, &cc.eng, sock_read, &fd, sock_write, &fd);
    /* Flushing nothing drives the handshake to completion, as WiFiClientSecure's connect does. */
    br_sslio_flush(&io);
    unsigned state = br_ssl_engine_current_state(&cc.eng);
    int err = br_ssl_engine_last_error(&cc.eng);
    if (state == BR_SSL_CLOSED || err != 0) {
        if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT) {
            r.handshake = "alert";
            r.alert = err - BR_ERR_RECV_FATAL_ALERT;
        }
        snprintf(r.error, sizeof r.error, "BearSSL error %d", err);
        print_result(&r);
        close(fd);
        return 0;
    }
    r.handshake = "ok";
    snprintf(r.version, sizeof r.version, "TLSv1.%d", br_ssl_engine_get_version(&cc.eng) - 0x0301);
    br_ssl_session_parameters session;
    br_ssl_engine_get_session_parameters(&cc.eng, &session);
    r.suite = session.cipher_suite;
    for (int i = 0; i < a.npackets; i++) {
        if (br_sslio_write_all(&io, a.packets[i], a.packet_lens[i]) != 0) break;
        if (br_sslio_flush(&io) != 0) break;
        if (read_mqtt_packet(io_read, &io, &r) != 0) break;
    }
    err = br_ssl_engine_last_error(&cc.eng);
    if (err != 0 && r.nreceived < a.npackets)
        snprintf(r.error, sizeof r.error, "BearSSL error %d after the handshake", err);
    br_sslio_close(&io);
    close(fd);
    print_result(&r);
    return 0;
}
