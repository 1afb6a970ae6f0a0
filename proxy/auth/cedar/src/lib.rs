//! Cedar authorization for mcp-proxy and mcp-webhook: the official engine
//! (the `cedar-policy` crate) behind the small C ABI declared in
//! common/include/mcp/cedar.h. A policy set is parsed once from ToolHive's
//! `authzConfig` (one policy per string, plus entities JSON) and is then
//! immutable, so any number of threads may authorize against it at once.
//! Every entry point catches panics; nothing unwinds into C.

mod model;

use cedar_policy::{Authorizer, Decision, Entities, Policy, PolicyId, PolicySet, Request};
use miette::Diagnostic;
use serde_json::{Map, Value};
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub const OK: c_int = 0;
pub const EINVAL: c_int = -1;
pub const EPOLICY: c_int = -2;
pub const EENTITIES: c_int = -3;
pub const EINTERNAL: c_int = -4;

const TEXT_MAX: usize = 512;
const REASONS_MAX: usize = 16;
/// Caps on what one call reads (bytes); the callers cap their inputs
/// further, these keep a mistake from turning into a long parse.
const POLICY_MAX: usize = 64 << 10;
const ENTITIES_MAX: usize = 1 << 20;
const JSON_MAX: usize = 1 << 20;
/// Deepest bracket nesting a policy may have (a sane policy needs a few).
const NEST_MAX: usize = 128;
/// Most `if` keywords a policy may hold.
const IF_MAX: usize = 64;
/// Cedar turns its parse tree into the policy's expression tree, and later
/// drops that tree, recursively: `if a then if b then ...` twenty thousand
/// deep overflows an 8 MiB stack, and the caps above cannot see every deep
/// tree (`1 + 1 + ...` is as deep as it is long). So parsing and freeing run
/// on a thread of their own with this much stack (reserved, touched only as
/// deep as the policies go); evaluation checks its own stack and fails a
/// too-deep policy with an error, which denies.
const BIG_STACK: usize = 512 << 20;

#[repr(C)]
pub struct Str {
    ptr: *const u8,
    len: usize,
}

#[repr(C)]
pub struct Error {
    index: c_int,
    text: [c_char; TEXT_MAX],
}

#[repr(C)]
pub struct Decision_ {
    allow: c_int,
    n_reasons: usize,
    reasons: [u32; REASONS_MAX],
    n_errors: usize,
    error: Error,
}

/// The opaque `mcp_cedar_t`.
pub struct Set {
    policies: PolicySet,
    model: model::Model,
    authorizer: Authorizer,
}

struct Fail(c_int, c_int, String);

impl Str {
    /// # Safety
    /// `ptr` must point to `len` readable bytes (or be NULL with `len` 0).
    unsafe fn get(&self, what: &str, max: usize) -> Result<&str, Fail> {
        if self.len == 0 {
            return Ok("");
        }
        if self.ptr.is_null() {
            return Err(Fail(EINVAL, -1, format!("{what}: NULL with length {}", self.len)));
        }
        if self.len > max {
            return Err(Fail(EINVAL, -1, format!("{what}: {} bytes, more than {max}", self.len)));
        }
        std::str::from_utf8(std::slice::from_raw_parts(self.ptr, self.len))
            .map_err(|e| Fail(EINVAL, -1, format!("{what}: not UTF-8: {e}")))
    }
}

/// Copy `msg` into a C text buffer, cut at a character boundary, NUL-terminated.
fn put_text(dst: &mut [c_char; TEXT_MAX], msg: &str) {
    let mut n = msg.len().min(TEXT_MAX - 1);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    for (d, b) in dst.iter_mut().zip(msg.as_bytes()[..n].iter()) {
        *d = *b as c_char;
    }
    dst[n] = 0;
}

fn put_error(err: *mut Error, index: c_int, msg: &str) {
    if let Some(e) = unsafe { err.as_mut() } {
        e.index = index;
        put_text(&mut e.text, msg);
    }
}

/// Cedar's message for a parse error, with where it is (line:column in the
/// policy text) and Cedar's help when it gives one.
fn describe(e: &dyn Diagnostic, src: &str) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        msg = format!("{msg}: {c}");
        cause = c.source();
    }
    if let Some(at) = e.labels().and_then(|mut l| l.next()).map(|l| l.offset()) {
        let before = &src[..at.min(src.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        msg = format!("{msg} (line {line}, column {col})");
    }
    if let Some(help) = e.help() {
        msg = format!("{msg}; {help}");
    }
    msg
}

fn ident_byte(c: Option<&u8>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// What Cedar's recursive descent would go deepest on, counted outside
/// string literals and comments: bracket nesting and `if` expressions
/// (each `if` may nest the next one, with no bracket to see).
fn shape_error(src: &str) -> Option<String> {
    let (mut depth, mut ifs, mut in_str, mut esc, mut comment) = (0usize, 0usize, false, false, false);
    let b = src.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if comment {
            comment = c != b'\n';
            continue;
        }
        if in_str {
            (in_str, esc) = (esc || c != b'"', !esc && c == b'\\');
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'/' if b.get(i + 1) == Some(&b'/') => comment = true,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > NEST_MAX {
                    return Some(format!("brackets nested deeper than {NEST_MAX}"));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'i' if b.get(i + 1) == Some(&b'f')
                && !ident_byte(i.checked_sub(1).and_then(|j| b.get(j)))
                && !ident_byte(b.get(i + 2)) =>
            {
                ifs += 1;
                if ifs > IF_MAX {
                    return Some(format!("more than {IF_MAX} if-expressions"));
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_policy(i: usize, src: &str) -> Result<Policy, Fail> {
    let idx = c_int::try_from(i).unwrap_or(c_int::MAX);
    if let Some(why) = shape_error(src) {
        return Err(Fail(EPOLICY, idx, why));
    }
    Policy::parse(Some(PolicyId::new(format!("policy{i}"))), src)
        .map_err(|e| Fail(EPOLICY, idx, describe(&e, src)))
}

/// Run `f` on a new thread with BIG_STACK of stack and every signal blocked
/// (the daemons handle signals on their own threads), and wait for it.
fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let t = std::thread::Builder::new().name("cedar".into()).stack_size(BIG_STACK).spawn(move || {
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        }
        f()
    });
    t.ok()?.join().ok()
}

/// Owned copies of the inputs, for the parsing thread.
struct Inputs {
    policies: Vec<Result<String, Fail>>,
    entities: Result<String, Fail>,
}

unsafe fn copy_inputs(policies: *const Str, n: usize, entities_json: &Str) -> Result<Inputs, Fail> {
    if n == 0 || policies.is_null() {
        return Err(Fail(EINVAL, -1, "no policies".into()));
    }
    let one = |(i, p): (usize, &Str)| {
        p.get("policy", POLICY_MAX)
            .map(str::to_owned)
            .map_err(|Fail(c, _, m)| Fail(c, c_int::try_from(i).unwrap_or(c_int::MAX), m))
    };
    Ok(Inputs {
        policies: std::slice::from_raw_parts(policies, n).iter().enumerate().map(one).collect(),
        entities: entities_json.get("entities JSON", ENTITIES_MAX).map(str::to_owned),
    })
}

/// Cedar's entity JSON as cedar-go (ToolHive's engine) reads it: an entity
/// may leave out "attrs" and "parents", which the Rust crate requires.
fn parse_entities(src: &str) -> Result<Entities, Fail> {
    let fail = |m: String| Fail(EENTITIES, -1, format!("entities JSON: {m}"));
    let mut v: Value = serde_json::from_str(src).map_err(|e| fail(e.to_string()))?;
    for e in v.as_array_mut().into_iter().flatten() {
        if let Some(o) = e.as_object_mut() {
            o.entry("attrs").or_insert_with(|| Value::Object(Map::new()));
            o.entry("parents").or_insert_with(|| Value::Array(Vec::new()));
        }
    }
    Entities::from_json_value(v, None).map_err(|e| fail(describe(&e, "")))
}

fn new_set(inp: Inputs) -> Result<Set, Fail> {
    let mut set = PolicySet::new();
    for (i, p) in inp.policies.into_iter().enumerate() {
        let policy = parse_policy(i, &p?)?;
        set.add(policy).map_err(|e| Fail(EPOLICY, i as c_int, e.to_string()))?;
    }
    let ej = inp.entities?;
    let ej = ej.as_str();
    let entities = if ej.trim().is_empty() {
        Entities::empty()
    } else {
        parse_entities(ej)?
    };
    Ok(Set { policies: set, model: model::Model::new(entities), authorizer: Authorizer::new() })
}

/// mcp_cedar_new: see common/include/mcp/cedar.h
///
/// # Safety
/// As the header states: `policies` holds `n` valid strings, `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mcp_cedar_new(
    policies: *const Str,
    n: usize,
    entities_json: Str,
    out: *mut *mut Set,
    err: *mut Error,
) -> c_int {
    if out.is_null() {
        put_error(err, -1, "out is NULL");
        return EINVAL;
    }
    *out = std::ptr::null_mut();
    let r = match copy_inputs(policies, n, &entities_json) {
        Err(f) => Ok(Err(f)),
        Ok(inp) => on_big_stack(move || catch_unwind(AssertUnwindSafe(|| new_set(inp))))
            .unwrap_or_else(|| Ok(Err(Fail(EINTERNAL, -1, "cannot start the parsing thread".into())))),
    };
    match r {
        Ok(Ok(set)) => {
            *out = Box::into_raw(Box::new(set));
            OK
        }
        Ok(Err(Fail(code, index, msg))) => {
            put_error(err, index, &msg);
            code
        }
        Err(_) => {
            put_error(err, -1, "internal error (panic in the Cedar library)");
            EINTERNAL
        }
    }
}

/// mcp_cedar_free: see common/include/mcp/cedar.h
///
/// # Safety
/// `set` is NULL or came from mcp_cedar_new and is not used again.
#[no_mangle]
pub unsafe extern "C" fn mcp_cedar_free(set: *mut Set) {
    if set.is_null() {
        return;
    }
    // dropping a policy's expression tree recurses as deep as the tree, so
    // on the big stack (if no thread can be had, spawn drops it here)
    let set = Box::from_raw(set);
    on_big_stack(move || {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(set)));
    });
}

unsafe fn json_object(s: &Str, what: &str) -> Result<Option<Map<String, Value>>, Fail> {
    let text = s.get(what, JSON_MAX)?;
    if text.is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(Value::Null) => Ok(None),
        Ok(_) => Err(Fail(EINVAL, -1, format!("{what}: not a JSON object"))),
        Err(e) => Err(Fail(EINVAL, -1, format!("{what}: {e}"))),
    }
}

fn policy_index(id: &PolicyId) -> Option<u32> {
    let s: &str = id.as_ref();
    s.strip_prefix("policy").and_then(|n| n.parse().ok())
}

unsafe fn authorize(set: &Set, op: c_int, name: &Str, claims: &Str, args: &Str, d: &mut Decision_) -> Result<(), Fail> {
    let op = model::Op::from_c(op).ok_or_else(|| Fail(EINVAL, -1, format!("unknown action {op}")))?;
    let name = name.get("name", JSON_MAX)?;
    let claims = json_object(claims, "claims")?
        .ok_or_else(|| Fail(EINVAL, -1, "missing principal: no claims".into()))?;
    let args = json_object(args, "arguments")?;
    let b = model::build(&set.model, op, name, &claims, args.as_ref())
        .map_err(|m| Fail(EINVAL, -1, m))?;
    let req = Request::new(b.principal, b.action, b.resource, b.context, None)
        .map_err(|e| Fail(EINVAL, -1, e.to_string()))?;
    let resp = set.authorizer.is_authorized(&req, &set.policies, &b.entities);
    let diag = resp.diagnostics();
    let mut reasons: Vec<u32> = diag.reason().filter_map(policy_index).collect();
    reasons.sort_unstable();
    d.n_reasons = reasons.len();
    for (dst, r) in d.reasons.iter_mut().zip(reasons) {
        *dst = r;
    }
    // ToolHive denies when any policy failed to evaluate (cedar.go: "if
    // len(diagnostic.Errors) > 0 { return false, ... }"), even when Cedar
    // itself, which skips such a policy, would allow
    let mut errors: Vec<(u32, String)> = diag
        .errors()
        .map(|e| {
            let cedar_policy::AuthorizationError::PolicyEvaluationError(pe) = e;
            (policy_index(pe.policy_id()).unwrap_or(u32::MAX), e.to_string())
        })
        .collect();
    errors.sort();
    d.n_errors = errors.len();
    if let Some((i, msg)) = errors.first() {
        d.error.index = if *i == u32::MAX { -1 } else { *i as c_int };
        put_text(&mut d.error.text, msg);
    }
    d.allow = c_int::from(resp.decision() == Decision::Allow && d.n_errors == 0);
    Ok(())
}

/// mcp_cedar_authorize: see common/include/mcp/cedar.h
///
/// # Safety
/// `set` came from mcp_cedar_new; each string points to its length in
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mcp_cedar_authorize(
    set: *const Set,
    action: c_int,
    name: Str,
    claims_json: Str,
    arguments_json: Str,
    out: *mut Decision_,
) -> c_int {
    let Some(d) = out.as_mut() else { return EINVAL };
    d.allow = 0;
    d.n_reasons = 0;
    d.n_errors = 0;
    d.error.index = -1;
    d.error.text[0] = 0;
    let Some(set) = set.as_ref() else {
        put_text(&mut d.error.text, "set is NULL");
        return EINVAL;
    };
    let r = catch_unwind(AssertUnwindSafe(|| {
        authorize(set, action, &name, &claims_json, &arguments_json, &mut *d)
    }));
    let (code, msg) = match r {
        Ok(Ok(())) => return OK,
        Ok(Err(Fail(code, _, msg))) => (code, msg),
        Err(_) => (EINTERNAL, "internal error (panic in the Cedar library)".to_string()),
    };
    // fail closed: whatever went wrong, the answer is deny
    d.allow = 0;
    d.n_errors = 1;
    d.error.index = -1;
    put_text(&mut d.error.text, &msg);
    code
}
