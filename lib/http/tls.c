/* SPDX-License-Identifier: MIT */
/*
 * PEM files for ferryd's https listener; see tls.h. OpenSSL (linked for
 * SHA-256 already) parses and matches them; libmicrohttpd's GnuTLS then
 * serves the same bytes.
 */
#include "http/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fy.h"

/* A certificate chain or a key is a few KiB; more is not a PEM file. */
#define PEM_MAX (1u << 20)

static int read_pem(const char *what, const char *path, char **out,
                    struct ferry_err *err)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    size_t n;
    char *p;

    *out = NULL;
    if (!f)
        return fy_err_set(err, FERRY_ECONFIG, "%s '%s': %s", what, path,
                          strerror(errno));
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) ||
        sb.st_size > (off_t)PEM_MAX) {
        fclose(f);
        return fy_err_set(err, FERRY_ECONFIG,
                          "%s '%s': not a regular file of at most 1 MiB", what,
                          path);
    }
    p = fy_malloc((size_t)sb.st_size + 1);
    if (!p) {
        fclose(f);
        return fy_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    n = fread(p, 1, (size_t)sb.st_size, f);
    if (ferror(f) || n != (size_t)sb.st_size) {
        fclose(f);
        fy_free(p);
        return fy_err_set(err, FERRY_ECONFIG, "%s '%s': cannot read it", what,
                          path);
    }
    fclose(f);
    p[n] = '\0';
    *out = p;
    return 0;
}

/* Why OpenSSL refused, for the message; clears its error queue. */
static const char *ssl_reason(char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();

    snprintf(buf, n, "%s", e ? ERR_reason_error_string(e) : "");
    if (!buf[0])
        snprintf(buf, n, "no PEM block found");
    ERR_clear_error();
    return buf;
}

/* Agents refuse an expired certificate: say so while there is time. */
#define EXPIRY_WARN_DAYS 30

static void warn_expiry(const char *cert_path, const X509 *x)
{
    int days = 0, secs = 0;

    if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
        return;
    if (days < 0 || (days == 0 && secs <= 0))
        fy_warn("tls",
                "the certificate in '%s' has expired: agents will refuse"
                " it (certificate verify failed)",
                cert_path);
    else if (days < EXPIRY_WARN_DAYS)
        fy_warn("tls", "the certificate in '%s' expires in %d day%s", cert_path,
                days, days == 1 ? "" : "s");
}

static int check_pair(const char *cert_path, const char *key_path,
                      const struct fy_http_tls *tls, struct ferry_err *err)
{
    BIO *cb = BIO_new_mem_buf(tls->cert_pem, -1);
    BIO *kb = BIO_new_mem_buf(tls->key_pem, -1);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = NULL;
    char why[200];
    int rc = 0;

    if (!cb || !kb)
        rc = fy_err_set(err, FERRY_ENOMEM, "out of memory");
    else if (!x)
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "tls_cert '%s' holds no PEM certificate (%s)",
                        cert_path, ssl_reason(why, sizeof(why)));
    /* No passphrase callback: an encrypted key cannot be used unattended. */
    else if (!(k = PEM_read_bio_PrivateKey(kb, NULL, NULL, (void *)"")))
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "tls_key '%s' holds no unencrypted PEM private key"
                        " (%s)",
                        key_path, ssl_reason(why, sizeof(why)));
    else if (X509_check_private_key(x, k) != 1)
        rc = fy_err_set(err, FERRY_ECONFIG,
                        "tls_key '%s' is not the key of the certificate in"
                        " '%s'",
                        key_path, cert_path);
    if (rc == 0)
        warn_expiry(cert_path, x);
    ERR_clear_error();
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(kb);
    BIO_free(cb);
    return rc;
}

int fy_http_tls_load(const char *cert_path, const char *key_path,
                     struct fy_http_tls *tls, struct ferry_err *err)
{
    int rc;

    memset(tls, 0, sizeof(*tls));
    rc = read_pem("tls_cert", cert_path, &tls->cert_pem, err);
    if (rc == 0)
        rc = read_pem("tls_key", key_path, &tls->key_pem, err);
    if (rc == 0)
        rc = check_pair(cert_path, key_path, tls, err);
    if (rc < 0)
        fy_http_tls_release(tls);
    return rc;
}

void fy_http_tls_release(struct fy_http_tls *tls)
{
    if (!tls)
        return;
    if (tls->key_pem) /* the key's bytes do not outlive their use */
        memset(tls->key_pem, 0, strlen(tls->key_pem));
    fy_free(tls->cert_pem);
    fy_free(tls->key_pem);
    tls->cert_pem = tls->key_pem = NULL;
}
