/* A device's TLS client built from mbed TLS 2.28 (Debian libmbedtls-dev), configured as the
 * devices that run mbed TLS configure it, then MQTT over it (see device.h for the command
 * line and output). Configurations:
 *
 *   esp8266-nonos-mbedtls  ESP8266 NONOS SDK >= 2.2.0 linked with -lmbedtls (its espconn layer
 *                          over mbedTLS 2.2.1): TLS 1.0 to 1.2; no ECC compiled in, so only
 *                          static-RSA AES-CBC suites (AES256-SHA256, AES256-SHA, AES128-SHA256,
 *                          AES128-SHA, in mbedTLS's preference order); espconn never calls
 *                          mbedtls_ssl_set_hostname, so no SNI; no max_fragment_length,
 *                          extended master secret, encrypt-then-MAC or session tickets (all
 *                          compiled out in the SDK's config); RSA-2048 client key; the CA record
 *                          parsed from RAM, verification required (device-side research §1.3-1.4).
 *   esp-idf-mbedtls        ESP-IDF 4.x esp-tls over mbedTLS 2.x with its default config:
 *                          TLS 1.2 only, the default suite list of that build (ECDHE-ECDSA and
 *                          ECDHE-RSA with AES-GCM, ChaCha20, AES-CBC, then static RSA), SNI with
 *                          the broker's host name, the CA and credentials from PEM in RAM
 *                          (EMBED_TXTFILES), P-256 or RSA key (device-side research §3, §4). */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#include "device.h"

static const int NONOS_SUITES[] = {
    MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA256,
    MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA,
    0,
};

static const int ESP_IDF_SUITES[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA256,
    MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA,
    0,
};

static int net_send(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
    return n < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : (int)n;
}

static int net_recv(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t n = recv(*(int *)ctx, buf, len, 0);
    if (n == 0) return MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY;
    return n < 0 ? MBEDTLS_ERR_NET_RECV_FAILED : (int)n;
}

static int ssl_read(void *ctx, unsigned char *buf, size_t len)
{
    return mbedtls_ssl_read((mbedtls_ssl_context *)ctx, buf, len);
}

static void error_text(struct result *r, const char *what, int code)
{
    char text[160];
    mbedtls_strerror(code, text, sizeof text);
    snprintf(r->error, sizeof r->error, "%s: -0x%04X %s", what, (unsigned)-code, text);
}

int main(int argc, char **argv)
{
    struct device_args a;
    parse_args(argc, argv, &a);
    struct result r = {.stack = a.config, .handshake = "error", .alert = -1};
    int nonos = strcmp(a.config, "esp8266-nonos-mbedtls") == 0;
    if (!nonos && strcmp(a.config, "esp-idf-mbedtls") != 0) {
        fprintf(stderr, "unknown configuration %s\n", a.config);
        return 2;
    }

    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca, cert;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&cert);
    mbedtls_pk_init(&key);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0);
    /* PEM in RAM: the length counts the trailing NUL, as mbedTLS requires for PEM. */
    if (!rc && (rc = mbedtls_x509_crt_parse(&ca, (unsigned char *)a.ca, a.ca_len + 1)))
        error_text(&r, "CA", rc);
    else if (!rc && (rc = mbedtls_x509_crt_parse(&cert, (unsigned char *)a.cert, a.cert_len + 1)))
        error_text(&r, "client certificate", rc);
    else if (!rc && (rc = mbedtls_pk_parse_key(&key, (unsigned char *)a.key, a.key_len + 1, NULL, 0)))
        error_text(&r, "client key", rc);
    if (rc) {
        print_result(&r);
        return 0;
    }
    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                MBEDTLS_SSL_PRESET_DEFAULT);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
    mbedtls_ssl_conf_own_cert(&conf, &cert, &key);
    mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    if (nonos) {
        mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_1);
        mbedtls_ssl_conf_ciphersuites(&conf, NONOS_SUITES);
        mbedtls_ssl_conf_extended_master_secret(&conf, MBEDTLS_SSL_EXTENDED_MS_DISABLED);
        mbedtls_ssl_conf_encrypt_then_mac(&conf, MBEDTLS_SSL_ETM_DISABLED);
        mbedtls_ssl_conf_session_tickets(&conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    } else {
        mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
        mbedtls_ssl_conf_ciphersuites(&conf, ESP_IDF_SUITES);
    }
    mbedtls_ssl_setup(&ssl, &conf);
    if (!nonos && a.server_name) mbedtls_ssl_set_hostname(&ssl, a.server_name);

    int fd = tcp_connect(&a);
    if (fd < 0) {
        snprintf(r.error, sizeof r.error, "cannot connect to %s:%d", a.ip, a.port);
        print_result(&r);
        return 0;
    }
    mbedtls_ssl_set_bio(&ssl, &fd, net_send, net_recv, NULL);
    while ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
        if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
            r.handshake = "alert";
            r.alert = ssl.in_msg[1];
        }
        error_text(&r, "mbedtls_ssl_handshake", rc);
        print_result(&r);
        close(fd);
        return 0;
    }
    r.handshake = "ok";
    snprintf(r.version, sizeof r.version, "%s", mbedtls_ssl_get_version(&ssl));
    r.suite = (unsigned)mbedtls_ssl_get_ciphersuite_id(mbedtls_ssl_get_ciphersuite(&ssl));
    for (int i = 0; i < a.npackets; i++) {
        if (mbedtls_ssl_write(&ssl, a.packets[i], a.packet_lens[i]) < 0) break;
        if (read_mqtt_packet(ssl_read, &ssl, &r) != 0) break;
    }
    mbedtls_ssl_close_notify(&ssl);
    close(fd);
    print_result(&r);
    return 0;
}
