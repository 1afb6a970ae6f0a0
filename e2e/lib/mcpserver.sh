# MCPServer helpers for the e2e files (sourced); NS is the file's namespace.

# mk NAME [NS]: a valid MCPServer (the time image, profile none, port 8080)
mk() {
    kubectl -n "${2:-$NS}" apply -f - >/dev/null <<YAML
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: $1
spec:
  image: docker.io/mcp/time
  port: 8080
  permissionProfile:
    name: none
YAML
}

# The stored version (v1alpha1): what the controller writes, phase Running.
# kubectl's default is the preferred version, v1beta1 (proxyPort, Ready).
MCPS_V1ALPHA1=mcpservers.v1alpha1.toolhive.stacklok.dev

# field NAME JSONPATH [NS]: one field of an MCPServer as v1alpha1 ("" when absent)
field() { kubectl -n "${3:-$NS}" get "$MCPS_V1ALPHA1" "$1" -o jsonpath="$2" 2>/dev/null; }

# reconciled NAME [NS]: its Deployment exists and its status has a url
reconciled() {
    kubectl -n "${2:-$NS}" get deployment "$1" >/dev/null 2>&1 &&
        [ -n "$(field "$1" '{.status.url}' "${2:-$NS}")" ]
}
