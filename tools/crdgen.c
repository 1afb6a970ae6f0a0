/* mcp-crdgen: print the MCPServer CRD generated from the schema table (with
 * --with-v1beta1 serving v1beta1 too), or
 * with --reference the Markdown API reference generated from the same
 * table. Used by `make crd`, `make docs` and their -check targets. */
#include <stdio.h>
#include <string.h>

#include "mcp/common.h"
#include "mcp/schema.h"

int main(int argc, char **argv)
{
    int reference = argc == 2 && strcmp(argv[1], "--reference") == 0;
    int beta = argc == 2 && strcmp(argv[1], "--with-v1beta1") == 0;
    int rc;

    if (argc > 1 && !reference && !beta) {
        fprintf(stderr, "usage: mcp-crdgen [--reference | --with-v1beta1]\n");
        return 2;
    }
    rc = reference ? mcp_reference_write(stdout)
         : beta    ? mcp_crd_write_with_beta(stdout)
                   : mcp_crd_write(stdout);
    if (rc) {
        fprintf(stderr, "mcp-crdgen: %s\n", mcp_strerror(rc));
        return 1;
    }
    return 0;
}
