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

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression,
};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

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

impl Op {
    pub fn from_c(v: i32) -> Option<Op> {
        Some(match v {
            0 => Op::CallTool,
            1 => Op::GetPrompt,
            2 => Op::ReadResource,
            3 => Op::ListTools,
            4 => Op::ListPrompts,
            5 => Op::ListResources,
            _ => return None,
        })
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

/// One request in Cedar's terms, ready for `Request::new`.
pub struct Built {
    pub principal: EntityUid,
    pub action: EntityUid,
    pub resource: EntityUid,
    pub context: Context,
    pub entities: Entities,
}

type Attrs = HashMap<String, RestrictedExpression>;

fn uid(ty: &str, id: &str) -> Result<EntityUid, String> {
    let t = EntityTypeName::from_str(ty).map_err(|e| format!("entity type {ty}: {e}"))?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
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

/// A JSON number as Cedar: an integer that fits i64 is a Long (as ToolHive's
/// own tests and docs/authz.md use them: `context.arg_value1 == 5`); any
/// other number a decimal truncated to 4 places as cedar-go's
/// NewDecimalFromFloat does, or nothing when out of decimal's range.
fn number(n: &serde_json::Number) -> Option<RestrictedExpression> {
    if let Some(i) = n.as_i64() {
        return Some(RestrictedExpression::new_long(i));
    }
    let f = n.as_f64()? * 10000.0;
    if !f.is_finite() || f >= i64::MAX as f64 || f <= i64::MIN as f64 {
        return None;
    }
    let v = f as i64; // truncates toward zero, like Go's int64(f)
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    Some(RestrictedExpression::new_decimal(format!("{sign}{}.{:04}", a / 10000, a % 10000)))
}

/// cedar_entity.go convertArrayItemToCedar: scalars only
fn scalar(v: &Value) -> Option<RestrictedExpression> {
    match v {
        Value::String(s) => Some(RestrictedExpression::new_string(s.clone())),
        Value::Bool(b) => Some(RestrictedExpression::new_bool(*b)),
        Value::Number(n) => number(n),
        _ => None,
    }
}

/// cedar_entity.go convertToCedarValue: scalars, arrays as sets of their
/// scalar items; objects and null are left out
fn claim_value(v: &Value) -> Option<RestrictedExpression> {
    match v {
        Value::Array(items) => Some(RestrictedExpression::new_set(items.iter().filter_map(scalar))),
        v => scalar(v),
    }
}

/// cedar.go preprocessClaims: every claim as `claim_<name>`
fn claims_attrs(claims: &Map<String, Value>) -> Attrs {
    claims
        .iter()
        .filter_map(|(k, v)| claim_value(v).map(|e| (format!("claim_{k}"), e)))
        .collect()
}

/// cedar.go preprocessArguments: a scalar argument as `arg_<name>`, any other
/// (object, array, null) only as `arg_<name>_present: true`
fn args_attrs(args: &Map<String, Value>) -> Attrs {
    args.iter()
        .map(|(k, v)| match v {
            Value::String(_) | Value::Bool(_) | Value::Number(_) => (format!("arg_{k}"), scalar(v)),
            _ => (format!("arg_{k}_present"), Some(RestrictedExpression::new_bool(true))),
        })
        .filter_map(|(k, e)| e.map(|e| (k, e)))
        .collect()
}

fn s(v: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(v.to_string())
}

/// The request's own entity, merged with the one entitiesJson gives for the
/// same UID: the configured parents are kept and the request's attributes
/// win over configured ones of the same name. (ToolHive v0.2.9 replaces the
/// configured entity whole, which loses its parents and attributes, although
/// its docs/authz.md shows a configured attribute being used; we follow the
/// docs.)
fn merged(base: &Entities, id: EntityUid, attrs: Attrs) -> Result<Entity, String> {
    let (attrs, parents) = match base.get(&id) {
        None => (attrs, HashSet::new()),
        Some(e) => {
            let (_, mut cfg, parents) = e.clone().into_inner();
            cfg.extend(attrs);
            (cfg, parents)
        }
    };
    Entity::new(id, attrs, parents).map_err(|e| e.to_string())
}

/// Build the request for `op` on `name` by the caller whose token claims are
/// `claims` (a JSON object with a non-empty string `sub`), with the tool's
/// `args` (a JSON object, or None).
pub fn build(
    base: &Entities,
    base_empty: bool,
    op: Op,
    name: &str,
    claims: &Map<String, Value>,
    args: Option<&Map<String, Value>>,
) -> Result<Built, String> {
    let sub = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        _ => return Err("missing principal: the claims have no non-empty string \"sub\"".into()),
    };
    let (action_id, rtype, feature, operation) = op.names();
    let claim_attrs = claims_attrs(claims);
    let arg_attrs = args.map(args_attrs).unwrap_or_default();

    // cedar.go authorizeToolCall & co: the resource's attributes, then
    // CreateResourceEntity sets name to the resource's id
    let (rid, mut rattrs): (String, Attrs) = match op {
        Op::CallTool | Op::GetPrompt => (name.to_string(), HashMap::new()),
        Op::ReadResource => (sanitize_uri(name), HashMap::from([("uri".to_string(), s(name))])),
        _ => (feature.to_string(), HashMap::from([("type".to_string(), s(feature))])),
    };
    rattrs.insert("operation".into(), s(operation));
    rattrs.insert("feature".into(), s(feature));
    rattrs.extend(arg_attrs.iter().map(|(k, v)| (k.clone(), v.clone())));
    rattrs.insert("name".into(), s(&rid));

    let principal = uid("Client", sub)?;
    let action = uid("Action", action_id)?;
    let resource = uid(rtype, &rid)?;

    let mut ctx = claim_attrs.clone();
    ctx.extend(arg_attrs);
    let context = Context::from_pairs(ctx).map_err(|e| e.to_string())?;

    let own = [
        merged(base, principal.clone(), claim_attrs)?,
        merged(base, action.clone(), HashMap::from([("operation".to_string(), s(action_id))]))?,
        merged(base, resource.clone(), rattrs)?,
    ];
    let entities = if base_empty {
        Entities::from_entities(own, None)
    } else {
        base.clone().upsert_entities(own, None)
    }
    .map_err(|e| e.to_string())?;
    Ok(Built { principal, action, resource, context, entities })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_toolhive() {
        assert_eq!(sanitize_uri("file:///a b/c.txt?x=1&y#z"), "file____a_b_c_txt_x_1_y_z");
    }

    #[test]
    fn numbers() {
        let n = |t: &str| number(&serde_json::from_str(t).unwrap()).map(|e| e.to_string());
        assert_eq!(n("5").as_deref(), Some("5"));
        assert_eq!(n("-1.23456").as_deref(), Some("decimal(\"-1.2345\")"));
        assert_eq!(n("1e300"), None);
    }
}
