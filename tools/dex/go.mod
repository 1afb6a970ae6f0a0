// Pin of Dex (the OpenID provider of the e2e tests), read by
// e2e/local/build.sh dex. Not a build module: Dex's own go.mod has a
// replace directive (api/v2 => ./api/v2) that a wrapper's build would
// ignore, so build.sh downloads this module's source from the Go module
// proxy (checked against go.sum here), applies serve-no-grpc-api.patch and
// builds ./cmd/dex inside it with Dex's own go.mod and go.sum.
//
// The version: the Go module proxy this project builds from serves Dex's
// master at ab64ed77 (2026-08-06, `git describe`: v2.45.0-330-gab64ed77)
// and refuses the release tags (v2.45.1 and older: "This module version is
// not available"); Dex's tags are not valid Go versions of this module path
// anyway (no /v2 suffix), so every Dex is a pseudo-version here.
module github.com/mcp-operator/tools/dex

go 1.25.8

require github.com/dexidp/dex v0.0.0-20260806151424-ab64ed778070
