/* Cedar authorization in ToolHive v0.2.9's model, evaluated by the official
 * engine (the Rust crate cedar-policy, pinned in proxy/auth/cedar/Cargo.toml)
 * through this C ABI. Implemented by libcedar_mcp.a, which cargo builds from
 * proxy/auth/cedar/ (`make cedar`); the proxy authorizes with it and the
 * webhook checks policies' syntax at admission with it, so the header lives
 * with the API both daemons share.
 *
 * Model (ToolHive's pkg/authz/cedar.go and cedar_entity.go):
 *   principal Client::"<sub>", sub being the token's "sub" claim, with every
 *             claim as attribute claim_<name>;
 *   action    Action::"call_tool" | "get_prompt" | "read_resource" |
 *             "list_tools" | "list_prompts" | "list_resources", attribute
 *             operation = that id;
 *   resource  Tool::"<name>", Prompt::"<name>", Resource::"<uri with
 *             : / \ ? & = # space . each replaced by _>", or for a list
 *             FeatureType::"tool" | "prompt" | "resource"; attributes name
 *             (the id), operation (call, get, read, list), feature (tool,
 *             prompt, resource), uri (reads), type (lists) and the tool's
 *             arguments as arg_<name>;
 *   context   the claims (claim_<name>) and arguments (arg_<name>).
 * Values: a string, boolean or integer is a Cedar String, Bool or Long; any
 * other number a decimal (4 places, truncated); a claim that is an array a Set
 * of its scalar items; a claim that is an object or null is left out; an
 * argument that is an object, array or null becomes arg_<name>_present: true.
 * Policy i gets the id "policy<i>". The request's three entities are merged
 * with the ones entitiesJson gives for the same UIDs (configured parents kept,
 * the request's attributes winning). A request is allowed when Cedar allows it
 * and no policy failed to evaluate (ToolHive's rule: an evaluation error in any
 * policy denies). List results: ToolHive asks no list_* question; it keeps
 * the items whose call_tool / get_prompt / read_resource the caller is
 * allowed, asked without arguments.
 *
 * Strings are (pointer, length) pairs, not NUL-terminated, UTF-8, borrowed
 * for the call only. A set is immutable once made: any number of threads may
 * call mcp_cedar_authorize on one set at once. No function unwinds into C; an
 * internal panic becomes MCP_CEDAR_EINTERNAL. Link: libcedar_mcp.a and
 * mk/cedar.mk's CEDAR_LIBS (-lpthread -ldl -lm -lrt -lutil
 * -Wl,-z,noexecstack -Wl,--gc-sections). */
#ifndef MCP_CEDAR_H
#define MCP_CEDAR_H

#include <stddef.h>
#include <stdint.h>

typedef struct mcp_cedar mcp_cedar_t; /* a parsed policy set and its entities */

typedef struct mcp_cedar_str {
    const char *ptr; /* NULL only with len 0 */
    size_t len;      /* bytes */
} mcp_cedar_str_t;

/* Returns of every function: 0, or one of these. */
enum {
    MCP_CEDAR_OK = 0,
    MCP_CEDAR_EINVAL = -1,    /* a bad argument: NULL, not UTF-8, JSON not an object, no sub */
    MCP_CEDAR_EPOLICY = -2,   /* a policy does not parse */
    MCP_CEDAR_EENTITIES = -3, /* the entities JSON is not Cedar's entity format */
    MCP_CEDAR_EINTERNAL = -4, /* the library panicked (a bug; the set stays usable) */
};

/* What mcp_cedar_authorize is asked; the values are part of the ABI. */
enum mcp_cedar_action {
    MCP_CEDAR_CALL_TOOL = 0,      /* tools/call      name: the tool's name */
    MCP_CEDAR_GET_PROMPT = 1,     /* prompts/get     name: the prompt's name */
    MCP_CEDAR_READ_RESOURCE = 2,  /* resources/read  name: the resource's URI, as sent */
    MCP_CEDAR_LIST_TOOLS = 3,     /* list_* : name is ignored (ToolHive's proxy */
    MCP_CEDAR_LIST_PROMPTS = 4,   /* never asks these; they are here for policies */
    MCP_CEDAR_LIST_RESOURCES = 5, /* written against its authorizeFeatureList) */
};

#define MCP_CEDAR_TEXT_MAX    512 /* bytes of an error text, NUL included */
#define MCP_CEDAR_REASONS_MAX 16  /* determining policies a decision lists */

/* An error: which policy (its index in the array given to mcp_cedar_new, or
 * -1 when it is not one policy's) and Cedar's message, NUL-terminated, cut
 * at MCP_CEDAR_TEXT_MAX - 1 bytes on a character boundary. Caller-allocated. */
typedef struct mcp_cedar_error {
    int index;
    char text[MCP_CEDAR_TEXT_MAX];
} mcp_cedar_error_t;

/* One decision. Caller-allocated; filled by mcp_cedar_authorize. */
typedef struct mcp_cedar_decision {
    int allow;        /* 1 allowed, 0 denied (always 0 when the call failed) */
    size_t n_reasons; /* policies Cedar found determining: the permits that
                         matched when it allowed, the forbids when one denied,
                         none for the default deny */
    uint32_t reasons[MCP_CEDAR_REASONS_MAX]; /* their indices, ascending; the
                                                first MCP_CEDAR_REASONS_MAX */
    size_t n_errors;                         /* policies that failed to evaluate (any denies) */
    mcp_cedar_error_t error;                 /* the lowest-indexed of them, or why the call
                                                failed; index -1 and "" when none */
} mcp_cedar_decision_t;

/* Parse `n` (>= 1) policies, one Cedar policy per string (a string holding
 * two policies, a template or a comment alone is an error), and the entities
 * JSON (Cedar's entity format, a JSON array; an empty string means none).
 * On success stores a new set in *out (free with mcp_cedar_free) and returns
 * 0. On failure stores NULL, returns MCP_CEDAR_EPOLICY (err->index: the first
 * policy that does not parse; err->text: Cedar's message with line and
 * column), MCP_CEDAR_EENTITIES or MCP_CEDAR_EINVAL, and fills *err (may be
 * NULL). To report every bad policy, as the webhook does, call it once per
 * policy with n = 1. Caps: 64 KiB a policy, brackets nested at most 128
 * deep, at most 64 `if`s in one policy, 1 MiB of entities JSON. Parsing runs
 * on a thread of its own (big stack, signals blocked) and takes a few
 * hundred microseconds for five short policies. */
int mcp_cedar_new(const mcp_cedar_str_t *policies, size_t n, mcp_cedar_str_t entities_json,
                  mcp_cedar_t **out, mcp_cedar_error_t *err);

/* Free a set from mcp_cedar_new. NULL is a no-op. */
void mcp_cedar_free(mcp_cedar_t *set);

/* May the caller whose verified token claims are `claims_json` (a JSON
 * object with a non-empty string "sub"; ToolHive refuses a request without
 * one) do `action` on `name`, with the tool arguments `arguments_json` (the
 * JSON object params.arguments of tools/call; empty or "null" for none)?
 * Fills *out and returns 0; on a bad argument returns MCP_CEDAR_EINVAL (or
 * MCP_CEDAR_EINTERNAL) with out->allow 0 and the reason in out->error.
 * Either JSON may be at most 1 MiB. Parses the claims each time: about
 * 10 us for a 400-byte token and 5 policies (`make bench-cedar`), so a
 * caller that asks often caches decisions (argument-free ones only, when a
 * policy reads arg_*). */
int mcp_cedar_authorize(const mcp_cedar_t *set, enum mcp_cedar_action action, mcp_cedar_str_t name,
                        mcp_cedar_str_t claims_json, mcp_cedar_str_t arguments_json,
                        mcp_cedar_decision_t *out);

#endif
