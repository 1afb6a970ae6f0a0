/* mcp-crdgen: print the MCPServer CRD generated from the schema table.
 * Used by `make crd` and `make crd-check`. */
#include <stdio.h>

#include "mcp/common.h"
#include "mcp/schema.h"

int main(void)
{
    int rc = mcp_crd_write(stdout);

    if (rc) {
        fprintf(stderr, "mcp-crdgen: %s\n", mcp_strerror(rc));
        return 1;
    }
    return 0;
}
