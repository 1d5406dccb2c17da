/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the ferryd command: settings and the command table.
 */
#ifndef FERRYD_H
#define FERRYD_H

#include <stddef.h>

enum ferryd_exit {
    FERRYD_OK = 0,
    FERRYD_ERROR = 1,
    FERRYD_USAGE = 2,
    FERRYD_CONFIG = 3,
    FERRYD_UNAVAILABLE = 5 /* store unreachable */
};

struct ferryd_settings {
    const char *store;    /* URL */
    const char *contract; /* path */
    const char *listen;
    size_t max_body;
    size_t max_inflight; /* bytes of all request bodies at once */
    unsigned pool;
};

int ferryd_serve(struct ferryd_settings *s, int argc, char **argv);
int ferryd_migrate(struct ferryd_settings *s, int argc, char **argv);
int ferryd_keys(struct ferryd_settings *s, int argc, char **argv);
int ferryd_exit_code(int rc);

#endif
