//! ToolHive v0.2.9's Cedar model (pkg/authz/cedar.go, cedar_entity.go):
//! which entity UIDs, attributes and context one MCP operation becomes.
//!
//! principal `Client::"<sub>"` (the token's `sub` claim), attributes the
//! claims as `claim_<name>`; action `Action::"call_tool"` (`get_prompt`,
//! `read_resource`, `list_tools`, ...) with the attribute `operation`; resource
//! `Tool::"<name>"`, `Prompt::"<name>"`, `Resource::"<uri with : / \ ? & = #
//! space . replaced by _>"` or `FeatureType::"tool"` for a list, with
//! `name`, `operation`, `feature` (`uri` for a resource, `type` for a list)
//! and the tool's arguments as `arg_<name>`. The context holds the claims and
//! the arguments, prefixed the same way.
//!
//! The request's values and entities are built as the engine's own types
//! (cedar-policy-core, the same pinned release cedar-policy wraps), not as
//! expressions the engine would evaluate first: that halves the cost of one
//! decision (`make bench-cedar`).

use cedar_policy::{Context, Entities, EntityId, EntityTypeName, EntityUid};
use cedar_policy_core::ast::{self, Name, PartialValue, RestrictedExpr, Value};
use cedar_policy_core::entities::{self as core_entities, NoEntitiesSchema, TCComputation};
use cedar_policy_core::evaluator::RestrictedEvaluator;
use cedar_policy_core::extensions::Extensions;
use serde_json::{Map, Value as Json};
use smol_str::SmolStr;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

/// The operations of ToolHive's model; the values are the C ABI's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    CallTool,
    GetPrompt,
    ReadResource,
    ListTools,
    ListPrompts,
    ListResources,
}

const OPS: [Op; 6] =
    [Op::CallTool, Op::GetPrompt, Op::ReadResource, Op::ListTools, Op::ListPrompts, Op::ListResources];

impl Op {
    pub fn from_c(v: i32) -> Option<Op> {
        usize::try_from(v).ok().and_then(|i| OPS.get(i).copied())
    }

    /// (action id, resource type, feature, operation) as cedar.go names them
    fn names(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Op::CallTool => ("call_tool", "Tool", "tool", "call"),
            Op::GetPrompt => ("get_prompt", "Prompt", "prompt", "get"),
            Op::ReadResource => ("read_resource", "Resource", "resource", "read"),
            Op::ListTools => ("list_tools", "FeatureType", "tool", "list"),
            Op::ListPrompts => ("list_prompts", "FeatureType", "prompt", "list"),
            Op::ListResources => ("list_resources", "FeatureType", "resource", "list"),
        }
    }
}

type Attrs = HashMap<SmolStr, PartialValue>;

/// What a policy set's requests share: the configured entities and the
/// parts of a request that depend on the operation alone.
pub struct Model {
    base: Entities,
    client: EntityTypeName,
    /// per Op: the action's UID and entity (merged with a configured one),
    /// and the resource type
    actions: Vec<(EntityUid, Arc<ast::Entity>, EntityTypeName)>,
}

fn type_name(t: &str) -> EntityTypeName {
    EntityTypeName::from_str(t).expect("a fixed type name parses")
}

fn uid(t: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id))
}

fn s(v: &str) -> PartialValue {
    PartialValue::Value(Value::from(v))
}

impl Model {
    pub fn new(base: Entities) -> Model {
        let client = type_name("Client");
        let action = type_name("Action");
        let actions = OPS
            .iter()
            .map(|op| {
                let (id, rtype, _, _) = op.names();
                let u = uid(&action, id);
                let e = merged(&base, &u, HashMap::from([("operation".into(), s(id))]));
                (u, Arc::new(e), type_name(rtype))
            })
            .collect();
        Model { base, client, actions }
    }
}

/// cedar.go sanitizeURIForCedar
pub fn sanitize_uri(uri: &str) -> String {
    uri.chars()
        .map(|c| match c {
            ':' | '/' | '\\' | '?' | '&' | '=' | '#' | ' ' | '.' => '_',
            c => c,
        })
        .collect()
}

/// "1.2345" as a Cedar decimal value
fn decimal(text: String) -> Option<Value> {
    let f = Name::parse_unqualified_name("decimal").ok()?;
    let e = RestrictedExpr::call_extension_fn(f, [RestrictedExpr::val(text)]);
    RestrictedEvaluator::new(Extensions::all_available()).interpret(e.as_borrowed()).ok()
}

/// A JSON number as Cedar: an integer that fits i64 is a Long (as ToolHive's
/// own tests and docs/authz.md use them: `context.arg_value1 == 5`); any
/// other number a decimal truncated to 4 places as cedar-go's
/// NewDecimalFromFloat does, or nothing when out of decimal's range.
fn number(n: &serde_json::Number) -> Option<Value> {
    if let Some(i) = n.as_i64() {
        return Some(Value::from(i));
    }
    let f = n.as_f64()? * 10000.0;
    if !f.is_finite() || f >= i64::MAX as f64 || f <= i64::MIN as f64 {
        return None;
    }
    let v = f as i64; // truncates toward zero, like Go's int64(f)
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    decimal(format!("{sign}{}.{:04}", a / 10000, a % 10000))
}

/// cedar_entity.go convertArrayItemToCedar: scalars only
fn scalar(v: &Json) -> Option<Value> {
    match v {
        Json::String(s) => Some(Value::from(s.as_str())),
        Json::Bool(b) => Some(Value::from(*b)),
        Json::Number(n) => number(n),
        _ => None,
    }
}

/// cedar_entity.go convertToCedarValue: scalars, arrays as sets of their
/// scalar items; objects and null are left out
fn claim_value(v: &Json) -> Option<Value> {
    match v {
        Json::Array(items) => Some(Value::set(items.iter().filter_map(scalar), None)),
        v => scalar(v),
    }
}

/// cedar.go preprocessClaims: every claim as `claim_<name>`
fn claims_values(claims: &Map<String, Json>) -> Vec<(SmolStr, Value)> {
    claims
        .iter()
        .filter_map(|(k, v)| claim_value(v).map(|e| (SmolStr::from(format!("claim_{k}")), e)))
        .collect()
}

/// cedar.go preprocessArguments: a scalar argument as `arg_<name>`, any other
/// (object, array, null) only as `arg_<name>_present: true`
fn args_values(args: &Map<String, Json>) -> Vec<(SmolStr, Value)> {
    args.iter()
        .filter_map(|(k, v)| match v {
            Json::String(_) | Json::Bool(_) | Json::Number(_) => {
                scalar(v).map(|e| (SmolStr::from(format!("arg_{k}")), e))
            }
            _ => Some((SmolStr::from(format!("arg_{k}_present")), Value::from(true))),
        })
        .collect()
}

/// The request's own entity, merged with the one entitiesJson gives for the
/// same UID: the configured parents (and ancestors) are kept and the
/// request's attributes win over configured ones of the same name. (ToolHive
/// v0.2.9 replaces the configured entity whole, which loses its parents and
/// attributes, although its docs/authz.md shows a configured attribute being
/// used; we follow the docs.)
fn merged(base: &Entities, id: &EntityUid, attrs: Attrs) -> ast::Entity {
    let core_id: &ast::EntityUID = id.as_ref();
    match base.as_ref().entity(core_id) {
        core_entities::Dereference::Data(e) => {
            let (u, mut cfg, ancestors, parents, tags) = e.clone().into_inner();
            cfg.extend(attrs);
            ast::Entity::new_with_attr_partial_value(u, cfg, ancestors, parents, tags)
        }
        _ => ast::Entity::new_with_attr_partial_value(
            core_id.clone(),
            attrs,
            HashSet::new(),
            HashSet::new(),
            [],
        ),
    }
}

/// One request in Cedar's terms, ready for `Request::new`.
pub struct Built {
    pub principal: EntityUid,
    pub action: EntityUid,
    pub resource: EntityUid,
    pub context: Context,
    pub entities: Entities,
}

/// Build the request for `op` on `name` by the caller whose token claims are
/// `claims` (a JSON object with a non-empty string `sub`), with the tool's
/// `args` (a JSON object, or None).
pub fn build(
    m: &Model,
    op: Op,
    name: &str,
    claims: &Map<String, Json>,
    args: Option<&Map<String, Json>>,
) -> Result<Built, String> {
    let sub = match claims.get("sub") {
        Some(Json::String(s)) if !s.is_empty() => s.as_str(),
        _ => return Err("missing principal: the claims have no non-empty string \"sub\"".into()),
    };
    let (_, _, feature, operation) = op.names();
    let (action, action_entity, rtype) = &m.actions[op as usize];
    let claims = claims_values(claims);
    let args = args.map(args_values).unwrap_or_default();

    // cedar.go authorizeToolCall & co: the resource's attributes, then
    // CreateResourceEntity sets name to the resource's id
    let (rid, mut rattrs): (String, Attrs) = match op {
        Op::CallTool | Op::GetPrompt => (name.to_string(), HashMap::new()),
        Op::ReadResource => (sanitize_uri(name), HashMap::from([("uri".into(), s(name))])),
        _ => (feature.to_string(), HashMap::from([("type".into(), s(feature))])),
    };
    rattrs.insert("operation".into(), s(operation));
    rattrs.insert("feature".into(), s(feature));
    rattrs.extend(args.iter().map(|(k, v)| (k.clone(), PartialValue::Value(v.clone()))));
    rattrs.insert("name".into(), s(&rid));

    let principal = uid(&m.client, sub);
    let resource = uid(rtype, &rid);
    let pattrs = claims.iter().map(|(k, v)| (k.clone(), PartialValue::Value(v.clone()))).collect();
    let own = [
        Arc::new(merged(&m.base, &principal, pattrs)),
        action_entity.clone(),
        Arc::new(merged(&m.base, &resource, rattrs)),
    ];
    // the configured entities' transitive closure is computed once, at
    // parse time, and each request entity carries its configured ancestors:
    // nothing left to compute
    let entities = m
        .base
        .as_ref()
        .clone()
        .upsert_entities(own, None::<&NoEntitiesSchema>, TCComputation::AssumeAlreadyComputed,
            Extensions::all_available())
        .map_err(|e| e.to_string())?;

    let ctx: BTreeMap<SmolStr, Value> = claims.into_iter().chain(args).collect();
    Ok(Built {
        principal,
        action: action.clone(),
        resource,
        context: Context::from(ast::Context::Value(Arc::new(ctx))),
        entities: Entities::from(entities),
    })
}
