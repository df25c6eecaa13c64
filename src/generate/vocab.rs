//! Word lists and weights of the generator: data, not logic.
#![cfg_attr(rustfmt, rustfmt_skip)]

use crate::event::EventType::{self, *};

/// (tool_name, singular noun, url slug, popularity, company-level).
pub(super) const TOOLS: &[(&str, &str, &str, u32, bool)] = &[
    ("Drawings", "Drawing", "drawings", 160, false), ("RFIs", "RFI", "rfis", 110, false),
    ("Documents", "Document", "documents", 110, false), ("Photos", "Photo", "photos", 100, false),
    ("Daily Log", "Daily Log", "daily_log", 90, false), ("Submittals", "Submittal", "submittals", 70, false),
    ("Punch List", "Punch Item", "punch_list", 45, false),
    ("Specifications", "Specification", "specifications", 30, false),
    ("Meetings", "Meeting", "meetings", 25, false), ("Schedule", "Schedule", "schedule", 25, false),
    ("Budget", "Budget", "budget", 20, false), ("Change Events", "Change Event", "change_events", 12, false),
    ("Commitments", "Commitment", "commitments", 12, false),
    ("Prime Contracts", "Prime Contract", "prime_contracts", 6, false),
    ("Invoicing", "Invoice", "invoicing", 10, false), ("Inspections", "Inspection", "inspections", 22, false),
    ("Observations", "Observation", "observations", 18, false), ("Incidents", "Incident", "incidents", 4, false),
    ("Timesheets", "Timesheet", "timesheets", 15, false), ("Directory", "Contact", "directory", 15, false),
    ("Emails", "Email", "emails", 8, false), ("Forms", "Form", "forms", 10, false),
    ("Transmittals", "Transmittal", "transmittals", 5, false),
    ("Correspondence", "Correspondence", "correspondence", 8, false), ("Bidding", "Bid", "bidding", 8, false),
    ("Coordination Issues", "Coordination Issue", "coordination_issues", 6, false),
    ("Models", "Model", "models", 6, false), ("Action Plans", "Action Plan", "action_plans", 3, false),
    ("Tasks", "Task", "tasks", 12, false), ("Crews", "Crew", "crews", 4, false),
    ("Equipment", "Equipment", "equipment", 4, false), ("Deliveries", "Delivery", "deliveries", 4, false),
    ("Admin", "Setting", "admin", 8, true), ("Company Directory", "Company User", "directory", 10, true),
    ("Reports", "Report", "reports", 12, true),
];

/// Relative frequency of each type, per 100,000 events (sums to 100,000).
pub(super) const TYPE_WEIGHTS: [(EventType, u32); 24] = [
    (View, 55_000), (CreateUpdate, 18_000), (Download, 7_000), (Upload, 4_000),
    (Submit, 2_500), (Sync, 2_500), (Notify, 2_000), (Export, 1_500), (Assign, 1_200),
    (Sign, 1_000), (Link, 900), (Close, 800), (Delete, 700), (Publish, 500),
    (Move, 400), (Remove, 400), (Other, 400), (Include, 300), (Validate, 300),
    (Reject, 200), (Allow, 150), (Execute, 150), (Reset, 50), (WithdrawVoid, 50),
];

/// Tools a type plausibly happens in (None: any tool).
pub(super) fn tools_for(t: EventType) -> Option<&'static [&'static str]> {
    Some(match t {
        Upload => &["Drawings", "Documents", "Photos", "Specifications", "Models", "Submittals",
            "Daily Log", "RFIs", "Correspondence", "Bidding"],
        Sign => &["Submittals", "Change Events", "Commitments", "Prime Contracts", "Invoicing", "Forms",
            "Timesheets", "Daily Log", "Inspections", "Transmittals"],
        Submit => &["RFIs", "Submittals", "Invoicing", "Timesheets", "Forms", "Inspections", "Bidding",
            "Daily Log", "Observations", "Incidents", "Change Events"],
        Sync => &["Drawings", "Photos", "Documents", "Daily Log", "Punch List", "Schedule", "Directory",
            "Models", "Timesheets"],
        Allow | Reset => &["Admin", "Directory", "Company Directory", "Documents", "Drawings", "Bidding",
            "Reports"],
        Publish => &["Drawings", "Specifications", "Schedule", "Meetings", "Budget", "Models", "Documents",
            "Bidding"],
        Execute => &["Reports", "Admin", "Budget", "Schedule", "Coordination Issues", "Models"],
        Export => &["Budget", "Reports", "RFIs", "Submittals", "Daily Log", "Schedule", "Commitments",
            "Invoicing", "Punch List", "Timesheets", "Meetings", "Directory"],
        Reject => &["Submittals", "RFIs", "Change Events", "Invoicing", "Bidding", "Timesheets", "Commitments"],
        WithdrawVoid => &["Submittals", "Commitments", "Prime Contracts", "Invoicing", "Change Events",
            "Bidding", "Forms"],
        _ => return None,
    })
}

/// Event name as (prefix, suffix) around the tool's noun; two variants per type.
pub(super) fn name_parts(t: EventType, variant: usize) -> (&'static str, &'static str) {
    match (t, variant) {
        (CreateUpdate, 0) => ("Created", ""), (CreateUpdate, _) => ("Updated", ""),
        (WithdrawVoid, 0) => ("Withdrew", ""), (WithdrawVoid, _) => ("Voided", ""),
        (Notify, _) => ("Sent", " Notification"), (Other, _) => ("Other", " Activity"),
        (Allow, _) => ("Granted Access to", ""), (Sync, _) => ("Synced", ""), (Reset, _) => ("Reset", ""),
        (View, _) => ("Viewed", ""), (Download, _) => ("Downloaded", ""), (Upload, _) => ("Uploaded", ""),
        (Submit, _) => ("Submitted", ""), (Export, _) => ("Exported", ""), (Assign, _) => ("Assigned", ""),
        (Sign, _) => ("Signed", ""), (Link, _) => ("Linked", ""), (Close, _) => ("Closed", ""),
        (Delete, _) => ("Deleted", ""), (Publish, _) => ("Published", ""), (Move, _) => ("Moved", ""),
        (Remove, _) => ("Removed", ""), (Include, _) => ("Included", ""), (Validate, _) => ("Validated", ""),
        (Reject, _) => ("Rejected", ""), (Execute, _) => ("Executed", ""),
    }
}

pub(super) fn subtypes(t: EventType) -> &'static [&'static str] {
    match t {
        View => &["Detail", "List", "Detail", "Revision"],
        CreateUpdate => &["Single", "Bulk", "Inline Edit", "Import"],
        Download | Upload => &["Single", "Bulk", "PDF"],
        Export => &["PDF", "CSV", "Excel"],
        Sync => &["Offline", "Background"],
        Notify => &["Email", "Push"],
        _ => &["Single", "Bulk"],
    }
}

pub(super) const DEVICES: [(&str, f64); 4] = [("Web", 65.0), ("iOS", 15.0), ("Android", 8.0), ("API", 12.0)];
pub(super) const CO_PREFIX: &[&str] = &[
    "Granite Ridge", "Harbor Point", "Summit", "Ironwood", "Blue Mesa", "Cedar Creek", "Northstar",
    "Redstone", "Silver Lake", "Pinnacle", "Coastal", "Keystone", "Lakeshore", "Timberline",
    "Riverbend", "Oak Hollow", "Stonebridge", "Eagle Rock", "Prairie Wind", "Copper Canyon",
];
pub(super) const CO_SUFFIX: &[&str] = &[
    "Builders", "Construction", "Contractors", "General Contracting", "Construction Group",
    "Building Co.", "Development", "Constructors",
];
pub(super) const PLACES: &[&str] = &[
    "Harbor Point", "Riverside", "Oak Street", "Lakeview", "Maple Grove", "Union Station",
    "Westfield", "Bayfront", "Hillcrest", "Sunset Blvd", "Market Square", "Pioneer", "Canyon View",
    "Meadowbrook", "Fifth Avenue", "Airport", "Mill Creek", "Civic Center",
];
pub(super) const KINDS: &[&str] = &[
    "Tower", "Medical Center", "Elementary School", "Apartments", "Parking Structure",
    "Office Park", "Hotel", "Warehouse", "Library", "Fire Station", "Lofts", "Retail Center",
    "Data Center", "Bridge Replacement", "Water Treatment Plant", "Hospital Expansion",
];
pub(super) const FIRST: &[&str] = &[
    "Maria", "James", "Wei", "Aisha", "Carlos", "Emily", "Michael", "Priya", "David", "Sofia",
    "Robert", "Linh", "Daniel", "Olivia", "Jose", "Hannah", "Kevin", "Fatima", "Brian", "Grace",
    "Luis", "Rachel", "Tom", "Nadia", "Marcus", "Chloe", "Andre", "Yuki", "Sean", "Elena",
];
pub(super) const LAST: &[&str] = &[
    "Ortiz", "Smith", "Chen", "Khan", "Garcia", "Johnson", "Nguyen", "Patel", "Brown", "Rossi",
    "Miller", "Tran", "Davis", "Wilson", "Lopez", "Clark", "Walker", "Hall", "Young", "King",
    "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Reyes", "Murphy",
];
pub(super) const JOB_TITLES: &[&str] = &[
    "Superintendent", "Project Manager", "Foreman", "Architect", "Project Engineer",
    "Assistant Project Manager", "Estimator", "Safety Manager", "Field Engineer", "Scheduler",
    "Document Controller", "Controller", "MEP Coordinator", "Owner's Representative", "Executive",
];
pub(super) const ROLES: &[&str] = &[
    "Project Manager", "Superintendent", "Admin", "Field", "Office", "Read Only", "Subcontractor",
];
pub(super) const USER_TYPES: [(&str, f64); 5] =
    [("Employee", 70.0), ("Collaborator", 14.0), ("Vendor", 10.0), ("Owner", 3.0), ("Consultant", 3.0)];
pub(super) const TEMPLATES: &[&str] = &[
    "Standard", "Standard", "Admin", "Read Only", "Field Worker", "Project Manager",
    "Subcontractor", "Architect/Engineer",
];
