/* picohttpparser, as h2o 2.2.5 bundles it and libh2o-evloop exports it
 * (Debian installs no header for it): the declarations of
 * deps/picohttpparser/picohttpparser.h that the egress proxy uses. */
#ifndef PX_EGRESS_PHR_H
#define PX_EGRESS_PHR_H

#include <stddef.h>
#include <sys/types.h>

struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Bytes of the head when complete, -2 while incomplete, -1 when bad. */
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

/* Zero-filled before the first call. */
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
};

/* Decodes buf in place (*bufsz becomes the decoded size): -2 while the
 * body goes on, -1 when bad, else the bytes left after the body's end. */
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

#endif
