/* Small helpers shared by the cmocka suites: reading fixture files and
 * listing fixture folders, so that a new case is a new folder, not new C;
 * formatted paths, the clock, a free port and the built daemons for the
 * suites that run servers. */
#ifndef MCP_TESTUTIL_H
#define MCP_TESTUTIL_H

#include <stddef.h>
#include <jansson.h>

/* Whole file as a new malloc'd NUL-terminated string (NULL if unreadable);
 * *len gets the size when len is non-NULL. */
char *tu_read_file(const char *path, size_t *len);

/* Parse a JSON file; fails the test when it cannot. New reference. */
json_t *tu_load_json(const char *path);

/* Sorted names of the sub-folders of dir. Returns a NULL-terminated array
 * (free with tu_free_list), never NULL; an empty array when dir is missing. */
char **tu_list_dirs(const char *dir);
/* The same for the regular files of dir (names starting with '.' left out). */
char **tu_list_files(const char *dir);
void tu_free_list(char **list);

/* Write s to path (creating parent folders); returns 0 or -1. */
int tu_write_file(const char *path, const char *s);

/* Hostile JSON for the caps tests, as new malloc'd strings:
 * `levels` nested arrays around leaf ("[[[1]]]" for 3, "1"), and a flat
 * array of n zeros ("[0,0,0]" for 3; n >= 1). */
char *tu_json_nested(int levels, const char *leaf);
char *tu_json_zeros(size_t n);

/* True when MCP_UPDATE_GOLDEN=1: suites rewrite their expected files. */
int tu_update_golden(void);

/* snprintf into out (n bytes), truncating: paths and URLs. */
void tu_pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Seconds on the monotonic clock. */
double tu_now_s(void);

/* Sleep for ms milliseconds. */
void tu_sleep_ms(int ms);

/* A TCP port on 127.0.0.1 that was free a moment ago (for a server that
 * takes a port number, not a socket). */
int tu_free_port(void);

/* The path of name (a daemon) in the build directory this test binary was
 * built in: BUILD/test/<area>/<test> -> BUILD/<name>. Returns 0, or -1 when
 * /proc/self/exe cannot be read. */
int tu_build_path(char *out, size_t n, const char *name);

#endif
