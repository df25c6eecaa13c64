//! Parquet export: a day, or a window with predicates, of a [`Snapshot`]
//! written as one Apache Parquet file to any writer, for the engines that
//! take over past one node (Spark, Trino, ClickHouse, DuckDB; see
//! docs/scaling.md). Behind the `parquet` cargo feature.
//!
//! The file has the contract's fields (docs/event-format.md) under their
//! names, in contract order, typed faithfully:
//!
//! | contract | Parquet (Arrow) |
//! |---|---|
//! | string, event type | BYTE_ARRAY UTF8 (`Utf8`), dictionary-encoded |
//! | u64 (`user_id`, `object_id`: `0..=2^63-1`) | INT64 (`Int64`): the contract's range fits exactly, and signed 64-bit is what Spark, Trino and Hive read (they have no unsigned type) |
//! | bool | BOOLEAN |
//! | ms (`event_timestamp`) | INT64 TIMESTAMP(MILLIS, UTC) |
//! | `YYYY-MM-DD` (`user_last_login_date`, `event_date`) | INT32 DATE (`Date32`) |
//!
//! Required fields are non-nullable columns; optional ones are nullable and
//! hold a null where the event has no value. `event_date` is left out by
//! default: in the Hive layout (`event_date=YYYY-MM-DD/part-0.parquet`,
//! what `daybook export` writes) it is the partition column, carried by the
//! directory name as engines expect; [`ExportOptions::event_date_column`]
//! adds it to the file for other layouts.
//!
//! Rows are in timestamp order (ties by `event_id`, unique in a store), so
//! the file does not depend on how the day happens to be split into
//! segments, and each row group's timestamp statistics let readers skip
//! groups outside their window; the file says so in its sorting-columns
//! metadata. Columns are zstd-compressed.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::event::{Event, Field, FieldKind, Value};
use crate::query::bind::{Bound, bind};
use crate::query::{Query, QueryOptions, Select, segscan};
use crate::segment::{BlockCursor, DictColumn, Encoding, SegmentReader, Timestamps, encoding_of};
use crate::state::Snapshot;
use crate::time::Day;

/// Rows per row group by default. DuckDB parallelises over row groups and
/// recommends 100k to 1M rows; Spark and Trino split by bytes. At about 49
/// bytes an event (docs/benchmarks.md) this is a ~6 MB group, so a day of
/// 100k events is one group and a day of 1M events eight (a day's groups are
/// balanced: see `Exporter::write_day`), each with its own timestamp range
/// to skip by.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 128 * 1024;

/// Rows per Arrow batch handed to the writer: bounds the memory of the
/// decoded strings, independently of the row group size (the writer keeps
/// only encoded pages of the group in progress).
const BATCH_ROWS: usize = 8192;

/// The path named by I/O errors of the output writer, which the library
/// knows only as a `Write`; callers that know the file name it.
pub const OUTPUT: &str = "<parquet output>";

/// How files are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// At most this many rows per row group (at least 1).
    pub row_group_rows: usize,
    /// zstd level, 1..=22. Default 1: on the generated month (random
    /// UUIDs and URLs are most of the bytes) levels 1, 3 and 9 gave 48.7,
    /// 50.1 and 49.4 bytes/event, and level 1 wrote 1.3x and 1.9x faster.
    pub zstd_level: i32,
    /// Add `event_date` (DATE) as a column, after `event_timestamp` as in
    /// the contract. Off for the Hive layout, where the directory carries it.
    pub event_date_column: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            zstd_level: 1,
            event_date_column: false,
        }
    }
}

/// What one export wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Events written.
    pub rows: u64,
    /// Bytes of the Parquet file.
    pub bytes: u64,
}

/// The fields written, in contract order.
pub fn fields(event_date_column: bool) -> Vec<Field> {
    Field::ALL
        .into_iter()
        .filter(|f| event_date_column || *f != Field::EventDate)
        .collect()
}

/// The Arrow schema of an exported file.
pub fn schema(event_date_column: bool) -> Schema {
    let columns: Vec<arrow_schema::Field> = fields(event_date_column)
        .into_iter()
        .map(|f| arrow_schema::Field::new(f.name(), data_type(f), !f.required()))
        .collect();
    Schema::new(columns)
}

fn data_type(f: Field) -> DataType {
    match f.kind() {
        FieldKind::Str | FieldKind::EventType => DataType::Utf8,
        FieldKind::Int => DataType::Int64,
        FieldKind::Bool => DataType::Boolean,
        FieldKind::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        FieldKind::Date => DataType::Date32,
    }
}

/// Exports the events of a snapshot that a query's window and predicates
/// select: one day per file ([`Exporter::write_day`]) or the whole window
/// in one ([`Exporter::write_all`]).
///
/// Only the query's `time` and `where` are used, with the semantics of
/// docs/queries.md (the window is cut to retention; every predicate but
/// `is_null` is false on a missing value); `select` is ignored, and
/// `fields`, `group_by`, `order_by`, `limit`, `offset` and `cursor` are
/// errors, since a file holds whole events, every one selected.
#[derive(Debug)]
pub struct Exporter {
    snap: Snapshot,
    query: Query,
    bound: Bound,
    opts: ExportOptions,
    schema: SchemaRef,
}

impl Exporter {
    /// Checks `q` (as `Snapshot::query` does) and the options.
    pub fn new(snap: &Snapshot, q: &Query, opts: ExportOptions) -> Result<Exporter> {
        let extra = [
            ("fields", !q.fields.is_empty()),
            ("group_by", !q.group_by.is_empty()),
            ("order_by", !q.order_by.is_empty()),
            ("limit", q.limit.is_some()),
            ("offset", q.offset.is_some()),
            ("cursor", q.cursor.is_some()),
        ];
        if let Some((part, _)) = extra.iter().find(|(_, given)| *given) {
            return Err(Error::InvalidQuery(format!(
                "{part}: an export writes every selected event, whole, in time order; \
                 give only time and where"
            )));
        }
        if opts.row_group_rows == 0 {
            return Err(Error::InvalidOptions(
                "export: row_group_rows must be at least 1".into(),
            ));
        }
        // Checked here so that writing cannot fail on it later.
        ZstdLevel::try_new(opts.zstd_level)
            .map_err(|e| Error::InvalidOptions(format!("export: zstd level: {e}")))?;
        let as_listing = Query {
            select: Select::Events,
            ..q.clone()
        };
        let bound = bind(&as_listing, snap.horizon, snap.today)?;
        let schema = Arc::new(schema(opts.event_date_column));
        Ok(Exporter {
            snap: snap.clone(),
            query: q.clone(),
            bound,
            opts,
            schema,
        })
    }

    /// The Arrow schema of the files.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The days of the window that hold events (before predicates),
    /// ascending: the files `daybook export` writes.
    pub fn days(&self) -> Vec<Day> {
        self.snap
            .partitions()
            .filter(|(d, p)| !p.is_empty() && self.in_window(*d))
            .map(|(d, _)| d)
            .collect()
    }

    /// Events stored on `day` (sealed and buffered), before the window and
    /// predicates: the work of exporting it, for progress reports.
    pub fn day_events(&self, day: Day) -> u64 {
        self.snap
            .day(day)
            .map_or(0, |d| d.segment_rows() + d.mem_events() as u64)
    }

    fn in_window(&self, day: Day) -> bool {
        let b = &self.bound;
        b.from_ms < b.to_ms && day.end_ms() > b.from_ms && day.start_ms() < b.to_ms
    }

    /// Writes the selected events of `day` as one Parquet file. A day with
    /// no selected event (or outside the window) gives a valid file with
    /// the schema and no rows.
    pub fn write_day<W: Write + Send>(&self, day: Day, out: W) -> Result<ExportSummary> {
        let mut picked = self.select(day)?;
        // Row groups of equal size, none above the maximum: 133,695 rows
        // make two groups of ~66,850, not 131,072 and a tail of 2,623.
        let max = self.opts.row_group_rows;
        let groups = picked.sel.rows.len().div_ceil(max).max(1);
        let per_group = picked.sel.rows.len().div_ceil(groups).max(1);
        let mut w = self.writer(out, Some(day), per_group)?;
        let rows = self.write_picked(day, &mut picked, &mut w)?;
        finish(w, rows)
    }

    /// Writes the selected events of every day of the window as one file,
    /// days ascending (so the whole file is in timestamp order).
    pub fn write_all<W: Write + Send>(&self, out: W) -> Result<ExportSummary> {
        let mut w = self.writer(out, None, self.opts.row_group_rows)?;
        let mut rows = 0;
        for day in self.days() {
            let mut picked = self.select(day)?;
            rows += self.write_picked(day, &mut picked, &mut w)?;
        }
        finish(w, rows)
    }

    fn writer<W: Write + Send>(
        &self,
        out: W,
        day: Option<Day>,
        row_group_rows: usize,
    ) -> Result<ArrowWriter<W>> {
        let level = ZstdLevel::try_new(self.opts.zstd_level).map_err(parquet_error)?;
        // Provenance: what this file holds, as the query document that
        // selected it (readers show it with their metadata functions).
        let about = serde_json::json!({
            "day": day.map(|d| d.to_string()),
            "query": serde_json::to_value(&self.query).unwrap_or_default(),
        });
        let ts_column = fields(self.opts.event_date_column)
            .iter()
            .position(|f| *f == Field::EventTimestamp)
            .unwrap_or(1);
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(row_group_rows.max(1)))
            .set_dictionary_enabled(true)
            .set_sorting_columns(Some(vec![SortingColumn {
                column_idx: i32::try_from(ts_column).unwrap_or(1),
                descending: false,
                nulls_first: false,
            }]))
            .set_created_by(format!(
                "daybook {} (parquet-rs)",
                env!("CARGO_PKG_VERSION")
            ))
            .set_key_value_metadata(Some(vec![KeyValue::new(
                "daybook.export".into(),
                about.to_string(),
            )]));
        // Columns with (nearly) a value per event: a dictionary would only
        // grow to its page limit and be dropped, after costing a hash per
        // value. daybook block-compresses the same three (docs/format.md).
        // Timestamps stay PLAIN (zstd takes them to ~2 bytes): DELTA_BINARY_PACKED
        // would save about one byte an event, but Spark's vectorized reader
        // before 3.3 rejects it.
        for f in [
            Field::EventId,
            Field::EventTimestamp,
            Field::Url,
            Field::ObjectId,
        ] {
            props = props.set_column_dictionary_enabled(ColumnPath::from(f.name()), false);
        }
        ArrowWriter::try_new(out, self.schema.clone(), Some(props.build())).map_err(parquet_error)
    }

    /// `day`'s selected events, in order, and the sources they are read from.
    fn select(&self, day: Day) -> Result<Picked<'_>> {
        let mut sources = Vec::new();
        let mut sel = Selection::default();
        if !self.in_window(day) {
            return Ok(Picked { sources, sel });
        }
        let Some(part) = self.snap.day(day) else {
            return Ok(Picked { sources, sel });
        };
        if let Some(damage) = part.damaged.first() {
            return Err(damage.to_error());
        }
        // `event_date` is the same on every row of the day: its predicates
        // hold for all of the day's events or for none.
        let date = Value::Date(day);
        if !self
            .bound
            .preds
            .iter()
            .filter(|p| p.field == Field::EventDate)
            .all(|p| p.matches(date))
        {
            return Ok(Picked { sources, sel });
        }
        for seg in &part.segments {
            if seg.max_ts_ms() < self.bound.from_ms || seg.min_ts_ms() >= self.bound.to_ms {
                continue;
            }
            let src = u32::try_from(sources.len()).unwrap_or(u32::MAX);
            let mut s = SegSource::open(seg)?;
            s.select(src, &self.bound, &mut sel)?;
            sources.push(Source::Seg(s));
        }
        for chunk in &part.mem {
            let src = u32::try_from(sources.len()).unwrap_or(u32::MAX);
            select_buffered(src, chunk, &self.bound, &mut sel);
            sources.push(Source::Mem(chunk));
        }
        sel.sort();
        Ok(Picked { sources, sel })
    }

    /// Writes picked events in batches.
    fn write_picked<W: Write + Send>(
        &self,
        day: Day,
        picked: &mut Picked<'_>,
        w: &mut ArrowWriter<W>,
    ) -> Result<u64> {
        let Picked { sources, sel } = picked;
        let fields = fields(self.opts.event_date_column);
        for chunk in sel.rows.chunks(BATCH_ROWS) {
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.len());
            for &field in &fields {
                let mut col = Column::new(field, chunk.len());
                for r in chunk {
                    if field == Field::EventId {
                        col.push(field, Value::Str(sel.id(r)))?;
                        continue;
                    }
                    let src = sources.get_mut(r.src as usize).ok_or_else(|| {
                        Error::Internal(format!("export: source {} out of range", r.src))
                    })?;
                    col.push(field, src.value(r.row, field, day)?)?;
                }
                columns.push(col.finish());
            }
            let batch = RecordBatch::try_new(self.schema.clone(), columns)
                .map_err(|e| Error::Internal(format!("export: {e}")))?;
            w.write(&batch).map_err(parquet_error)?;
        }
        Ok(sel.rows.len() as u64)
    }
}

fn finish<W: Write + Send>(mut w: ArrowWriter<W>, rows: u64) -> Result<ExportSummary> {
    w.finish().map_err(parquet_error)?;
    Ok(ExportSummary {
        rows,
        bytes: w.bytes_written() as u64,
    })
}

/// Exports every event of `day` (sealed and buffered) with the default
/// options: what a service shipping sealed days to object storage calls.
pub fn export_day<W: Write + Send>(snap: &Snapshot, day: Day, out: W) -> Result<ExportSummary> {
    Exporter::new(snap, &Query::events(), ExportOptions::default())?.write_day(day, out)
}

/// A Parquet error as the library's: the output's I/O errors stay I/O
/// errors (named [`OUTPUT`]), the rest are internal errors (the writer was
/// given what it accepts; a refusal is a bug here, not the caller's fault).
fn parquet_error(e: ParquetError) -> Error {
    match e {
        ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => Error::io(OUTPUT, *io),
            Err(other) => Error::Internal(format!("parquet: {other}")),
        },
        other => Error::Internal(format!("parquet: {other}")),
    }
}

/// A day's selected events and where to read them.
struct Picked<'a> {
    sources: Vec<Source<'a>>,
    sel: Selection,
}

/// One selected event: where it is, and its sort key.
#[derive(Clone, Copy, Debug)]
struct RowRef {
    ts: i64,
    /// Its `event_id`, in `Selection::ids`.
    id_start: usize,
    id_len: usize,
    src: u32,
    row: u32,
}

/// The selected events of a day, and their ids in one buffer (one
/// allocation for the day instead of one per event).
#[derive(Default)]
struct Selection {
    rows: Vec<RowRef>,
    ids: String,
}

impl Selection {
    fn push(&mut self, ts: i64, id: &str, src: u32, row: u32) {
        self.rows.push(RowRef {
            ts,
            id_start: self.ids.len(),
            id_len: id.len(),
            src,
            row,
        });
        self.ids.push_str(id);
    }

    fn id(&self, r: &RowRef) -> &str {
        // Offsets are those `push` recorded, on whole strings.
        self.ids
            .get(r.id_start..r.id_start + r.id_len)
            .unwrap_or_default()
    }

    /// Timestamp order; ties by `event_id` (unique in a store), then by
    /// position, so the order is total.
    fn sort(&mut self) {
        let ids = std::mem::take(&mut self.ids);
        let id = |r: &RowRef| {
            ids.get(r.id_start..r.id_start + r.id_len)
                .unwrap_or_default()
        };
        self.rows.sort_unstable_by(|a, b| {
            a.ts.cmp(&b.ts)
                .then_with(|| id(a).cmp(id(b)))
                .then_with(|| (a.src, a.row).cmp(&(b.src, b.row)))
        });
        self.ids = ids;
    }
}

/// Where a day's events are read from.
enum Source<'a> {
    Seg(SegSource<'a>),
    Mem(&'a [Event]),
}

impl Source<'_> {
    fn value(&mut self, row: u32, field: Field, day: Day) -> Result<Value<'_>> {
        match self {
            Source::Seg(s) => s.value(row, field, day),
            Source::Mem(events) => {
                let e = events.get(row as usize).ok_or_else(|| {
                    Error::Internal(format!("export: buffered row {row} missing"))
                })?;
                Ok(e.get(field))
            }
        }
    }
}

/// A segment with its columns open: dictionary columns read in place,
/// block columns decompressed a block at a time as rows go by.
struct SegSource<'a> {
    seg: &'a SegmentReader,
    ts: Timestamps<'a>,
    /// By field ordinal.
    dicts: Vec<Option<DictColumn<'a>>>,
    /// Per dictionary column, its values by code, decoded on first use:
    /// a row's value is then one lookup (decoding checked offsets and
    /// character boundaries per row was a tenth of the export's time).
    decoded: Vec<Vec<Option<Value<'a>>>>,
    blocks: Vec<Option<BlockCursor<'a>>>,
}

impl<'a> SegSource<'a> {
    fn open(seg: &'a SegmentReader) -> Result<SegSource<'a>> {
        let ts = seg.timestamps()?;
        let mut dicts: Vec<Option<DictColumn<'a>>> = Field::ALL.iter().map(|_| None).collect();
        let mut blocks: Vec<Option<BlockCursor<'a>>> = Field::ALL.iter().map(|_| None).collect();
        for f in Field::stored() {
            let i = f as usize;
            match encoding_of(f) {
                Encoding::Blocks => {
                    if let Some(slot) = blocks.get_mut(i) {
                        *slot = Some(seg.blocks(f)?);
                    }
                }
                Encoding::Timestamps => {}
                _ => {
                    if let Some(slot) = dicts.get_mut(i) {
                        *slot = Some(seg.dict(f)?);
                    }
                }
            }
        }
        let decoded = dicts
            .iter()
            .map(|d| d.as_ref().map_or(0, |d| d.count() as usize + 1))
            .map(|n| vec![None; n])
            .collect();
        Ok(SegSource {
            seg,
            ts,
            dicts,
            decoded,
            blocks,
        })
    }

    fn bad(&self, field: Field, why: String) -> Error {
        Error::corrupted(self.seg.path(), 0, field.name(), why)
    }

    fn ts(&self, row: u32) -> Result<i64> {
        self.ts
            .get(row)
            .ok_or_else(|| self.bad(Field::EventTimestamp, format!("row {row} out of range")))
    }

    fn value(&mut self, row: u32, field: Field, day: Day) -> Result<Value<'_>> {
        if field == Field::EventDate {
            return Ok(Value::Date(day));
        }
        match encoding_of(field) {
            Encoding::Timestamps => Ok(Value::Timestamp(self.ts(row)?)),
            Encoding::Blocks => match self.blocks.get_mut(field as usize) {
                Some(Some(cursor)) => cursor.get(row),
                _ => Err(Error::corrupted(
                    self.seg.path(),
                    0,
                    field.name(),
                    "not a block column",
                )),
            },
            _ => {
                let i = field as usize;
                let (Some(Some(dict)), Some(decoded)) =
                    (self.dicts.get(i), self.decoded.get_mut(i))
                else {
                    return Err(self.bad(field, "not a dictionary column".into()));
                };
                let code = dict.code(row);
                match decoded.get_mut(code as usize) {
                    Some(Some(v)) => Ok(*v),
                    Some(slot) => Ok(*slot.insert(dict.value(code)?)),
                    // Past the dictionary: `value` reports the damage.
                    None => dict.value(code),
                }
            }
        }
    }

    /// Adds the rows in the window that every predicate accepts, chosen
    /// by the query planner (bitmaps, indexes, then checks on candidates:
    /// `segscan::matching_rows`), so an export filters exactly as a query.
    fn select(&mut self, src: u32, q: &Bound, sel: &mut Selection) -> Result<()> {
        let rows = segscan::matching_rows(self.seg, q, QueryOptions::new().stop())?;
        for row in rows {
            let ts = self.ts(row)?;
            match self.blocks.get_mut(Field::EventId as usize) {
                Some(Some(cursor)) => match cursor.get(row)? {
                    Value::Str(id) => sel.push(ts, id, src, row),
                    other => {
                        return Err(Error::corrupted(
                            self.seg.path(),
                            0,
                            "event_id",
                            format!("row {row}: {other:?} is not an id"),
                        ));
                    }
                },
                _ => return Err(self.bad(Field::EventId, "not a block column".into())),
            }
        }
        Ok(())
    }
}

/// Adds the buffered events in the window that every predicate accepts
/// (the query path's check for buffered events).
fn select_buffered(src: u32, events: &[Event], q: &Bound, sel: &mut Selection) {
    for (i, e) in events.iter().enumerate() {
        if (q.from_ms..q.to_ms).contains(&e.event_timestamp_ms)
            && q.preds.iter().all(|p| p.matches(e.get(p.field)))
        {
            let row = u32::try_from(i).unwrap_or(u32::MAX);
            sel.push(e.event_timestamp_ms, &e.event_id, src, row);
        }
    }
}

/// An Arrow column being built.
enum Column {
    Str(StringBuilder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
    Ts(TimestampMillisecondBuilder),
    Date(Date32Builder),
}

impl Column {
    fn new(field: Field, rows: usize) -> Column {
        match field.kind() {
            // 16 bytes a value to start with; the builder grows as needed.
            FieldKind::Str | FieldKind::EventType => {
                Column::Str(StringBuilder::with_capacity(rows, rows * 16))
            }
            FieldKind::Int => Column::Int(Int64Builder::with_capacity(rows)),
            FieldKind::Bool => Column::Bool(BooleanBuilder::with_capacity(rows)),
            FieldKind::Timestamp => {
                Column::Ts(TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"))
            }
            FieldKind::Date => Column::Date(Date32Builder::with_capacity(rows)),
        }
    }

    fn push(&mut self, field: Field, v: Value<'_>) -> Result<()> {
        match (self, v) {
            (Column::Str(b), Value::Null) => b.append_null(),
            (Column::Int(b), Value::Null) => b.append_null(),
            (Column::Bool(b), Value::Null) => b.append_null(),
            (Column::Ts(b), Value::Null) => b.append_null(),
            (Column::Date(b), Value::Null) => b.append_null(),
            (Column::Str(b), Value::Str(s)) => b.append_value(s),
            (Column::Str(b), Value::EventType(t)) => b.append_value(t.as_str()),
            (Column::Int(b), Value::Int(n)) => {
                // The contract keeps ids in 0..=2^63-1: they fit an i64.
                let n = i64::try_from(n).map_err(|_| {
                    Error::InvalidInput(format!("export: {field} {n} is above 2^63-1"))
                })?;
                b.append_value(n);
            }
            (Column::Bool(b), Value::Bool(x)) => b.append_value(x),
            (Column::Ts(b), Value::Timestamp(ms)) => b.append_value(ms),
            (Column::Date(b), Value::Date(d)) => b.append_value(d.0),
            (_, other) => {
                return Err(Error::Internal(format!(
                    "export: {field} holds {other:?}, not a value of its kind"
                )));
            }
        }
        Ok(())
    }

    fn finish(self) -> ArrayRef {
        match self {
            Column::Str(mut b) => Arc::new(b.finish()),
            Column::Int(mut b) => Arc::new(b.finish()),
            Column::Bool(mut b) => Arc::new(b.finish()),
            Column::Ts(mut b) => Arc::new(b.finish()),
            Column::Date(mut b) => Arc::new(b.finish()),
        }
    }
}
