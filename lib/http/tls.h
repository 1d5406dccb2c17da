/* SPDX-License-Identifier: MIT */
/*
 * ferryd's certificate and key for https: read from PEM files at start-up
 * and checked before the listener starts, so that a bad file is a clear
 * error (exit 3) rather than a handshake that fails for every client.
 */
#ifndef FY_HTTP_TLS_H
#define FY_HTTP_TLS_H

#include "ferry/ferry_err.h"

struct fy_http_tls {
    char *cert_pem; /* the certificate (and any chain after it) */
    char *key_pem;  /* its private key */
};

/*
 * Reads cert_path and key_path into tls (release with fy_http_tls_release).
 * FERRY_ECONFIG, naming the file, when one is missing or unreadable, is
 * larger than 1 MiB, holds no PEM certificate / private key, or when the
 * key is not the certificate's.
 */
int fy_http_tls_load(const char *cert_path, const char *key_path,
                     struct fy_http_tls *tls, struct ferry_err *err);
void fy_http_tls_release(struct fy_http_tls *tls);

#endif
