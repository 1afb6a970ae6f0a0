/* Small helpers shared by the cmocka suites: reading fixture files and
 * listing fixture folders, so that a new case is a new folder, not new C. */
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

#endif
