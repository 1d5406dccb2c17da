/* SPDX-License-Identifier: MIT */
/*
 * POST /v1/tables/{table}/files/{column} (docs/api.md): one file from a
 * form, stored as a blob and linked to a row by its blob column, for
 * scripts that upload a file with the key of the row it belongs to (the
 * NAS pipeline's `POST /ingest/audio`, through an alias).
 */
#ifndef FY_ATTACH_H
#define FY_ATTACH_H

#include "server/api.h"

extern const struct fy_http_route fy_attach_routes[];
extern const size_t fy_attach_nroutes;

#endif
