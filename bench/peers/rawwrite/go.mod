// The raw write limit of the controller bench: a trivial apiserver client.
module github.com/mcp-operator/bench/peers/rawwrite

go 1.26.0
