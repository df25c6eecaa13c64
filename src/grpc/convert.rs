//! Between the protobuf messages and the engine's types.

use serde_json::{Value as J, json};

use super::pb;
use crate::event::{Event, EventType, FieldError};
use crate::query::{Query, Scalar};
use crate::time::Day;

/// A protobuf event as an engine event; the field at fault otherwise.
/// (Contract rules are checked by the engine's `append`.)
pub(crate) fn event_from_pb(e: pb::Event) -> Result<Event, FieldError> {
    let bad = |field: &str, message: String| FieldError {
        field: Some(field.to_string()),
        message,
    };
    let event_type = EventType::parse(&e.event_type)
        .ok_or_else(|| bad("event_type", EventType::unknown_message(&e.event_type)))?;
    let user_last_login_date = match e.user_last_login_date {
        None => None,
        Some(s) => Some(Day::parse(&s).ok_or_else(|| {
            bad(
                "user_last_login_date",
                format!("{s:?} is not a date (YYYY-MM-DD)"),
            )
        })?),
    };
    Ok(Event {
        event_id: e.event_id,
        event_timestamp_ms: e.event_timestamp_ms,
        event_type,
        event_name: e.event_name,
        event_subtype: e.event_subtype,
        tool_name: e.tool_name,
        company_name: e.company_name,
        project_name: e.project_name,
        project_number: e.project_number,
        project_is_demo: e.project_is_demo,
        object_id: e.object_id,
        url: e.url,
        device_type: e.device_type,
        is_api: e.is_api,
        user_id: e.user_id,
        user_email: e.user_email,
        user_login_email: e.user_login_email,
        user_name: e.user_name,
        user_job_title: e.user_job_title,
        user_role: e.user_role,
        user_type: e.user_type,
        user_default_permission_template: e.user_default_permission_template,
        user_is_active: e.user_is_active,
        user_is_authorized_bidder: e.user_is_authorized_bidder,
        user_last_login_date,
    })
}

/// An engine event as a protobuf event (for clients and tests).
pub fn event_to_pb(e: &Event) -> pb::Event {
    pb::Event {
        event_id: e.event_id.clone(),
        event_timestamp_ms: e.event_timestamp_ms,
        event_type: e.event_type.as_str().to_string(),
        event_name: e.event_name.clone(),
        event_subtype: e.event_subtype.clone(),
        tool_name: e.tool_name.clone(),
        company_name: e.company_name.clone(),
        project_name: e.project_name.clone(),
        project_number: e.project_number.clone(),
        project_is_demo: e.project_is_demo,
        object_id: e.object_id,
        url: e.url.clone(),
        device_type: e.device_type.clone(),
        is_api: e.is_api,
        user_id: e.user_id,
        user_email: e.user_email.clone(),
        user_login_email: e.user_login_email.clone(),
        user_name: e.user_name.clone(),
        user_job_title: e.user_job_title.clone(),
        user_role: e.user_role.clone(),
        user_type: e.user_type.clone(),
        user_default_permission_template: e.user_default_permission_template.clone(),
        user_is_active: e.user_is_active,
        user_is_authorized_bidder: e.user_is_authorized_bidder,
        user_last_login_date: e.user_last_login_date.map(|d| d.to_string()),
    }
}

fn scalar_json(s: &pb::Scalar) -> J {
    use pb::scalar::Kind;
    match &s.kind {
        None | Some(Kind::Null(_)) => J::Null,
        Some(Kind::Bool(b)) => J::Bool(*b),
        Some(Kind::Int(n)) => json!(n),
        Some(Kind::TimestampMs(ms)) => J::String(crate::time::format_ms(*ms)),
        Some(Kind::Date(d)) | Some(Kind::String(d)) => J::String(d.clone()),
    }
}

/// The query document of a request: the message is turned into the JSON
/// model, so both forms are validated by the same code.
pub(crate) fn query_from_pb(req: pb::QueryRequest) -> crate::Result<Query> {
    use pb::query_request::Query as Q;
    match req.query {
        None => Err(crate::Error::InvalidQuery(
            "query: give a query document (doc or json)".into(),
        )),
        Some(Q::Json(text)) => Query::parse(&text),
        Some(Q::Doc(d)) => {
            let mut doc = serde_json::Map::new();
            if d.last_days > 0 {
                doc.insert("time".into(), json!({ "last_days": d.last_days }));
            } else if !d.from.is_empty() || !d.to.is_empty() {
                doc.insert("time".into(), json!({ "from": d.from, "to": d.to }));
            }
            let filters: Vec<J> = d
                .r#where
                .iter()
                .map(|p| {
                    let mut o = serde_json::Map::new();
                    o.insert("field".into(), J::String(p.field.clone()));
                    o.insert("op".into(), J::String(p.op.clone()));
                    if !p.values.is_empty() {
                        o.insert(
                            "value".into(),
                            J::Array(p.values.iter().map(scalar_json).collect()),
                        );
                    } else if let Some(v) = &p.value {
                        o.insert("value".into(), scalar_json(v));
                    }
                    J::Object(o)
                })
                .collect();
            if !filters.is_empty() {
                doc.insert("where".into(), J::Array(filters));
            }
            if d.events {
                doc.insert("select".into(), J::String("events".into()));
            }
            if !d.fields.is_empty() {
                doc.insert("fields".into(), json!(d.fields));
            }
            if !d.group_by.is_empty() {
                doc.insert("group_by".into(), json!(d.group_by));
            }
            if !d.order_by.is_empty() {
                let keys: Vec<J> = d
                    .order_by
                    .iter()
                    .map(|o| json!([o.field, if o.descending { "desc" } else { "asc" }]))
                    .collect();
                doc.insert("order_by".into(), J::Array(keys));
            }
            if let Some(n) = d.limit {
                doc.insert("limit".into(), json!(n));
            }
            if let Some(n) = d.offset {
                doc.insert("offset".into(), json!(n));
            }
            if !d.cursor.is_empty() {
                doc.insert("cursor".into(), J::String(d.cursor));
            }
            Query::parse(&J::Object(doc).to_string())
        }
    }
}

pub(crate) fn scalar_to_pb(s: &Scalar) -> pb::Scalar {
    use pb::scalar::Kind;
    let kind = match s {
        Scalar::Null => Kind::Null(true),
        Scalar::Bool(b) => Kind::Bool(*b),
        Scalar::Int(n) => Kind::Int(*n),
        Scalar::Timestamp(ms) => Kind::TimestampMs(*ms),
        Scalar::Date(d) => Kind::Date(d.to_string()),
        Scalar::EventType(t) => Kind::String(t.as_str().to_string()),
        Scalar::Str(s) => Kind::String(s.clone()),
    };
    pb::Scalar { kind: Some(kind) }
}
