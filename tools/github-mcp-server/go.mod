// Wrapper module used only to build github-mcp-server (image
// ghcr.io/github/github-mcp-server, named by ToolHive's MCPServer examples;
// see e2e/local/build.sh github-mcp-server and images/local.sh). Its
// requirements are github-mcp-server's own go.mod's, unchanged.
//
// The version: the Go module proxy this project builds from serves the
// module only under its /v2 path (v2.0.1 .. v2.2.0) and refuses every
// github.com/github/github-mcp-server (v1) version tried. v2.0.2 is the
// newest whose go directive (1.26.8) this machine's Go builds; v2.0.3 and
// later need go >= 1.27.3 (GOTOOLCHAIN=go1.27.3 everywhere).
//
// Not buildable here (December 2026): the other Go servers of ToolHive's
// examples. The proxy answered "not available" to every version list, tag
// and pseudo-version asked for: github.com/stackloklabs/yardstick (v1.1.1,
// v1.1.0, v1.2.0, master), github.com/StacklokLabs/mkp (v0.4.3, v0.2.4,
// master), github.com/stackloklabs/gofetch (v1.0.5, v1.0.3, master).
// images/local.sh keeps its stand-in for ghcr.io/stackloklabs/gofetch/server.
module github.com/mcp-operator/tools/github-mcp-server

go 1.26.8

tool github.com/github/github-mcp-server/v2/cmd/github-mcp-server

require (
	github.com/aymerick/douceur v0.2.0 // indirect
	github.com/fsnotify/fsnotify v1.9.0 // indirect
	github.com/github/github-mcp-server/v2 v2.0.2 // indirect
	github.com/go-chi/chi/v5 v5.3.2 // indirect
	github.com/go-viper/mapstructure/v2 v2.5.0 // indirect
	github.com/google/go-github/v92 v92.0.0 // indirect
	github.com/google/go-querystring v1.2.0 // indirect
	github.com/google/jsonschema-go v0.4.3 // indirect
	github.com/gorilla/css v1.0.1 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/microcosm-cc/bluemonday v1.0.27 // indirect
	github.com/modelcontextprotocol/go-sdk v1.8.0 // indirect
	github.com/muesli/cache2go v0.0.0-20221011235721-518229cd8021 // indirect
	github.com/pelletier/go-toml/v2 v2.2.4 // indirect
	github.com/sagikazarmark/locafero v0.11.0 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	github.com/segmentio/encoding v0.5.4 // indirect
	github.com/shurcooL/githubv4 v0.0.0-20260209031235-2402fdf4a9ed // indirect
	github.com/shurcooL/graphql v0.0.0-20240915155400-7ee5256398cf // indirect
	github.com/sourcegraph/conc v0.3.1-0.20240121214520-5f936abd7ae8 // indirect
	github.com/spf13/afero v1.15.0 // indirect
	github.com/spf13/cast v1.10.0 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	github.com/spf13/viper v1.21.0 // indirect
	github.com/subosito/gotenv v1.6.0 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/net v0.59.0 // indirect
	golang.org/x/oauth2 v0.37.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)
