//! A typed way for embedders to build an [`Event`]: the identity of the
//! event up front, one setter per other field, and [`EventBuilder::build`]
//! applying the contract (docs/event-format.md) exactly as the JSON parser
//! does once it has typed values: every required field present, then
//! [`Event::validate`].

use super::{Event, EventType, Field, FieldError};
use crate::time::Day;

/// Builds an [`Event`]; start it with [`Event::builder`].
///
/// ```
/// use daybook::{Event, EventType};
/// let event = Event::builder("e-1", 1_795_700_000_000, EventType::View, "Granite Ridge")
///     .event_name("Viewed RFI")
///     .tool_name("RFIs")
///     .device_type("iOS")
///     .is_api(false)
///     .user_id(70211)
///     .user_email("m.ortiz@graniteridge.example")
///     .user_name("Maria Ortiz")
///     .project_name("Harbor Point Tower")
///     .build()
///     .unwrap();
/// assert_eq!(event.project_name.as_deref(), Some("Harbor Point Tower"));
///
/// // A required field never set is an error naming it.
/// let err = Event::builder("e-2", 1_795_700_000_000, EventType::View, "Granite Ridge")
///     .build()
///     .unwrap_err();
/// assert_eq!(err.to_string(), "field \"event_name\": required field is missing or null");
/// ```
#[derive(Clone, Debug)]
#[must_use = "an EventBuilder does nothing until `build` is called"]
pub struct EventBuilder {
    event: Event,
    /// Required fields whose setter has not been called, in contract order.
    unset: Vec<Field>,
}

/// The required fields set through a setter rather than [`Event::builder`].
const SET_LATER: [Field; 7] = [
    Field::EventName,
    Field::ToolName,
    Field::DeviceType,
    Field::IsApi,
    Field::UserId,
    Field::UserEmail,
    Field::UserName,
];

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $field:ident, $wrap:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.event.$name = $wrap(value);
                self.set(Field::$field);
                self
            }
        )*
    };
}

fn text(s: impl Into<String>) -> String {
    s.into()
}

fn some_text(s: impl Into<String>) -> Option<String> {
    Some(s.into())
}

impl Event {
    /// Starts an event with its identity: its id (unique per company), when
    /// it happened (UTC milliseconds since the Unix epoch), its type and
    /// the company (tenant) it belongs to. The other required fields are
    /// set with the builder's setters; optional ones left unset are null.
    pub fn builder(
        event_id: impl Into<String>,
        event_timestamp_ms: i64,
        event_type: EventType,
        company_name: impl Into<String>,
    ) -> EventBuilder {
        let mut event = Event::blank();
        event.event_id = event_id.into();
        event.event_timestamp_ms = event_timestamp_ms;
        event.event_type = event_type;
        event.company_name = company_name.into();
        EventBuilder {
            event,
            unset: SET_LATER.to_vec(),
        }
    }
}

impl EventBuilder {
    fn set(&mut self, field: Field) {
        self.unset.retain(|&f| f != field);
    }

    setters! {
        /// `event_name` (required): what happened, e.g. "Viewed RFI".
        event_name: impl Into<String> => EventName, text;
        /// `tool_name` (required): the product area, e.g. "RFIs".
        tool_name: impl Into<String> => ToolName, text;
        /// `device_type` (required), e.g. "iOS".
        device_type: impl Into<String> => DeviceType, text;
        /// `is_api` (required): whether the action came through the API.
        is_api: bool => IsApi, std::convert::identity;
        /// `user_id` (required), at most 2^63 - 1.
        user_id: u64 => UserId, std::convert::identity;
        /// `user_email` (required).
        user_email: impl Into<String> => UserEmail, text;
        /// `user_name` (required).
        user_name: impl Into<String> => UserName, text;
        /// `event_subtype`.
        event_subtype: impl Into<String> => EventSubtype, some_text;
        /// `project_name`.
        project_name: impl Into<String> => ProjectName, some_text;
        /// `project_number`.
        project_number: impl Into<String> => ProjectNumber, some_text;
        /// `project_is_demo`.
        project_is_demo: bool => ProjectIsDemo, Some;
        /// `object_id`, at most 2^63 - 1.
        object_id: u64 => ObjectId, Some;
        /// `url`, at most 8,192 bytes.
        url: impl Into<String> => Url, some_text;
        /// `user_login_email`.
        user_login_email: impl Into<String> => UserLoginEmail, some_text;
        /// `user_job_title`.
        user_job_title: impl Into<String> => UserJobTitle, some_text;
        /// `user_role`.
        user_role: impl Into<String> => UserRole, some_text;
        /// `user_type`.
        user_type: impl Into<String> => UserType, some_text;
        /// `user_default_permission_template`.
        user_default_permission_template: impl Into<String> => UserDefaultPermissionTemplate, some_text;
        /// `user_is_active`.
        user_is_active: bool => UserIsActive, Some;
        /// `user_is_authorized_bidder`.
        user_is_authorized_bidder: bool => UserIsAuthorizedBidder, Some;
        /// `user_last_login_date`: a UTC day.
        user_last_login_date: Day => UserLastLoginDate, Some;
    }

    /// The event, or the first rule of the contract it breaks: the first
    /// required field (in contract order) never set, then whatever
    /// [`Event::validate`] finds (empty or too long strings, ids above
    /// 2^63 - 1, timestamps and dates outside 1970..=9999), with the
    /// messages a JSON record gets for the same values.
    pub fn build(self) -> Result<Event, FieldError> {
        if let Some(&field) = self.unset.first() {
            return Err(FieldError::missing(field));
        }
        self.event.validate()?;
        Ok(self.event)
    }
}
