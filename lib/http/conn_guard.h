/* SPDX-License-Identifier: MIT */
/*
 * A deadline for request heads. libmicrohttpd's connection timeout is an
 * idle timeout: a client that sends one byte a second ("slowloris") is
 * never idle and holds its connection, and its thread, for as long as it
 * likes. The guard knows every open connection and since when it has
 * been waiting for a head (since it was accepted, or since its previous
 * answer ended); a thread shuts down the socket of any that waited longer
 * than the deadline, which libmicrohttpd then closes. A head that has
 * arrived is the handler's business (a long poll may wait minutes).
 */
#ifndef FY_HTTP_CONN_GUARD_H
#define FY_HTTP_CONN_GUARD_H

#include <microhttpd.h>

#include "ferry/ferry_err.h"

struct fy_conn_guard;

/* Starts the guard's thread; *out returned owned (fy_conn_guard_free). */
int fy_conn_guard_new(unsigned head_timeout_s, struct fy_conn_guard **out,
                      struct ferry_err *err);
/* Stops the thread; after the daemon has stopped. Accepts NULL. */
void fy_conn_guard_free(struct fy_conn_guard *g);

/* MHD_OPTION_NOTIFY_CONNECTION's callback, with the guard as its cls. */
void fy_conn_guard_notify(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code);
/* The connection's head has arrived (the access handler's first call). */
void fy_conn_guard_head(struct fy_conn_guard *g, struct MHD_Connection *c);
/* Its request is over: the wait for the next head starts now. */
void fy_conn_guard_idle(struct fy_conn_guard *g, struct MHD_Connection *c);
/* Connections cut so far for a head that did not arrive in time. */
unsigned long fy_conn_guard_cut(const struct fy_conn_guard *g);

#endif
