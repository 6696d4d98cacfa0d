/* A device's TLS client built from wolfSSL 5.5 (Debian libwolfssl-dev), configured as devices
 * that run wolfSSL configure it, then MQTT over it (see device.h for the command line and
 * output). Configurations:
 *
 *   wolfssl        wolfSSL's TLS client as an RTOS or ESP-TLS (wolfSSL backend) application
 *                  sets it up: wolfSSLv23_client_method with TLS 1.2 as the floor, the
 *                  library's default suites, SNI with the broker's host name
 *                  (wolfSSL_UseSNI), max_fragment_length 4096 (wolfSSL_UseMaxFragment, the
 *                  usual setting on small devices), the CA, certificate and key loaded from
 *                  PEM buffers in RAM; P-256 or RSA key.
 *   wolfssl-tls13  the same for a TLS 1.3-only build (wolfTLSv1_3_client_method), SNI, no
 *                  max_fragment_length. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "device.h"

static int ssl_read(void *ctx, unsigned char *buf, size_t len)
{
    return wolfSSL_read((WOLFSSL *)ctx, buf, (int)len);
}

int main(int argc, char **argv)
{
    struct device_args a;
    parse_args(argc, argv, &a);
    struct result r = {.stack = a.config, .handshake = "error", .alert = -1};
    int tls13_only = strcmp(a.config, "wolfssl-tls13") == 0;
    if (!tls13_only && strcmp(a.config, "wolfssl") != 0) {
        fprintf(stderr, "unknown configuration %s\n", a.config);
        return 2;
    }
    wolfSSL_Init();
    WOLFSSL_CTX *ctx =
        wolfSSL_CTX_new(tls13_only ? wolfTLSv1_3_client_method() : wolfSSLv23_client_method());
    if (!tls13_only) wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
    const char *failed = NULL;
    if (wolfSSL_CTX_load_verify_buffer(ctx, (unsigned char *)a.ca, (long)a.ca_len,
                                       WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
        failed = "the CA";
    else if (wolfSSL_CTX_use_certificate_chain_buffer(ctx, (unsigned char *)a.cert,
                                                      (long)a.cert_len) != WOLFSSL_SUCCESS)
        failed = "the client certificate";
    else if (wolfSSL_CTX_use_PrivateKey_buffer(ctx, (unsigned char *)a.key, (long)a.key_len,
                                               WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
        failed = "the client key";
    if (failed) {
        snprintf(r.error, sizeof r.error, "wolfSSL cannot load %s", failed);
        print_result(&r);
        return 0;
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    WOLFSSL *ssl = wolfSSL_new(ctx);
    if (a.server_name) {
        wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, a.server_name,
                       (unsigned short)strlen(a.server_name));
        wolfSSL_check_domain_name(ssl, a.server_name);
    }
    if (!tls13_only) wolfSSL_UseMaxFragment(ssl, WOLFSSL_MFL_2_12);

    int fd = tcp_connect(&a);
    if (fd < 0) {
        snprintf(r.error, sizeof r.error, "cannot connect to %s:%d", a.ip, a.port);
        print_result(&r);
        return 0;
    }
    wolfSSL_set_fd(ssl, fd);
    if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) {
        int err = wolfSSL_get_error(ssl, 0);
        WOLFSSL_ALERT_HISTORY history;
        if (wolfSSL_get_alert_history(ssl, &history) == WOLFSSL_SUCCESS &&
            history.last_rx.code >= 0 && history.last_rx.level == 2) {
            r.handshake = "alert";
            r.alert = history.last_rx.code;
        }
        char text[WOLFSSL_MAX_ERROR_SZ];
        snprintf(r.error, sizeof r.error, "wolfSSL error %d: %s", err,
                 wolfSSL_ERR_error_string((unsigned long)err, text));
        print_result(&r);
        close(fd);
        return 0;
    }
    r.handshake = "ok";
    snprintf(r.version, sizeof r.version, "%s", wolfSSL_get_version(ssl));
    r.suite = (unsigned)wolfSSL_get_current_cipher_suite(ssl);
    for (int i = 0; i < a.npackets; i++) {
        if (wolfSSL_write(ssl, a.packets[i], (int)a.packet_lens[i]) <= 0) break;
        if (read_mqtt_packet(ssl_read, ssl, &r) != 0) break;
    }
    wolfSSL_shutdown(ssl);
    close(fd);
    print_result(&r);
    return 0;
}
