//! A query's answer: a table whose cells are found by position or by
//! column name.

use crate::event::Field;

use super::scalar::Scalar;

/// A query's answer: a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryResult {
    /// Column names: the group fields then `count`, or the listed fields.
    pub columns: Vec<String>,
    /// Rows, in the query's order, after `offset` and `limit`.
    pub rows: Vec<Vec<Scalar>>,
    /// Events that matched the window and every predicate (before paging).
    /// `None` for a listing that stops at its page without checking every
    /// row (a limited listing by time with a predicate on `event_id`, `url`
    /// or `object_id`; see `Bound::stops_early`).
    pub matched_events: Option<u64>,
    /// For listings cut by `limit`: pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

impl QueryResult {
    /// As a JSON document: `{"columns": [...], "rows": [[...]],
    /// "matched_events": n, "next_cursor": "..."}`.
    pub fn to_json(&self) -> serde_json::Value {
        let rows = self
            .rows
            .iter()
            .map(|r| serde_json::Value::Array(r.iter().map(Scalar::to_json).collect()))
            .collect();
        serde_json::json!({
            "columns": self.columns,
            "rows": serde_json::Value::Array(rows),
            "matched_events": self.matched_events,
            "next_cursor": self.next_cursor,
        })
    }
}

impl QueryResult {
    /// The position of the column `name` (a field name, or `count`).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The rows as views that find a cell by column name.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = Row<'_>> + '_ {
        self.rows.iter().map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    /// Row `i` as a view, if there is one.
    pub fn row(&self, i: usize) -> Option<Row<'_>> {
        self.rows.get(i).map(|values| Row {
            columns: &self.columns,
            values,
        })
    }
}

/// One row of a [`QueryResult`], its cells found by column name
/// ([`get`](Self::get)), by field ([`get_field`](Self::get_field)) or by
/// position ([`values`](Self::values)).
#[derive(Clone, Copy, Debug)]
pub struct Row<'r> {
    columns: &'r [String],
    values: &'r [Scalar],
}

impl<'r> Row<'r> {
    /// The cell of column `name` (a field name, or `count`); `None` when
    /// the result has no such column.
    pub fn get(&self, name: &str) -> Option<&'r Scalar> {
        let i = self.columns.iter().position(|c| c == name)?;
        self.values.get(i)
    }

    /// The cell of `field`'s column; `None` when the result has none.
    pub fn get_field(&self, field: Field) -> Option<&'r Scalar> {
        self.get(field.name())
    }

    /// A count's `count` column.
    pub fn count(&self) -> Option<u64> {
        self.get("count").and_then(Scalar::as_u64)
    }

    /// The cells in column order.
    pub fn values(&self) -> &'r [Scalar] {
        self.values
    }
}
