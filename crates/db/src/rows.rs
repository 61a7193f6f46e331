//! Many rows of one table written together: the settlement of a batch of payments writes a
//! few rows into each of about ten tables, and on PostgreSQL each statement costs a round trip,
//! a Bind/Execute and an executor start-up whatever its size. [`Rows`] collects the rows
//! column by column; on PostgreSQL each column goes as one array parameter and the statement
//! unnests them (`INSERT … SELECT * FROM unnest($1, $2, …)`), so one statement whose text
//! never changes (prepared once per connection) writes any number of rows. On SQLite, which
//! has no round trips and no arrays, an `INSERT … VALUES (…), (…)` takes up to 32 rows (each
//! statement has its own journal and program start-up), and an update is one execution of a
//! prepared single-row statement. [`Rows::add_to`] is for updates that add to cached balances.

use crate::connection::DbConnection;
use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::{Error as DieselError, QueryResult};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::RunQueryDsl;

/// A column's SQL type, as the table declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    NullableText,
    BigInt,
    Timestamp,
    NullableTimestamp,
}

/// One value of a row, in the order of the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    NullableText(Option<String>),
    BigInt(i64),
    Timestamp(NaiveDateTime),
    NullableTimestamp(Option<NaiveDateTime>),
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Value {
        Value::NullableText(v)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Value {
        Value::NullableText(v.map(str::to_string))
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::BigInt(v)
    }
}
impl From<NaiveDateTime> for Value {
    fn from(v: NaiveDateTime) -> Value {
        Value::Timestamp(v)
    }
}
impl From<Option<NaiveDateTime>> for Value {
    fn from(v: Option<NaiveDateTime>) -> Value {
        Value::NullableTimestamp(v)
    }
}

#[derive(Debug, Clone)]
enum Column {
    Text(Vec<String>),
    NullableText(Vec<Option<String>>),
    BigInt(Vec<i64>),
    Timestamp(Vec<NaiveDateTime>),
    NullableTimestamp(Vec<Option<NaiveDateTime>>),
}

impl Column {
    fn new(t: ColumnType) -> Column {
        match t {
            ColumnType::Text => Column::Text(Vec::new()),
            ColumnType::NullableText => Column::NullableText(Vec::new()),
            ColumnType::BigInt => Column::BigInt(Vec::new()),
            ColumnType::Timestamp => Column::Timestamp(Vec::new()),
            ColumnType::NullableTimestamp => Column::NullableTimestamp(Vec::new()),
        }
    }

    /// `false` when the value is not of the column's type.
    fn push(&mut self, v: Value) -> bool {
        match (self, v) {
            (Column::Text(c), Value::Text(v)) => c.push(v),
            (Column::NullableText(c), Value::NullableText(v)) => c.push(v),
            (Column::NullableText(c), Value::Text(v)) => c.push(Some(v)),
            (Column::BigInt(c), Value::BigInt(v)) => c.push(v),
            (Column::Timestamp(c), Value::Timestamp(v)) => c.push(v),
            (Column::NullableTimestamp(c), Value::NullableTimestamp(v)) => c.push(v),
            (Column::NullableTimestamp(c), Value::Timestamp(v)) => c.push(Some(v)),
            _ => return false,
        }
        true
    }

    /// The whole column as one array parameter (PostgreSQL).
    fn bind_array<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        match self {
            Column::Text(v) => out.push_bind_param::<Array<Text>, _>(v),
            Column::NullableText(v) => out.push_bind_param::<Array<Nullable<Text>>, _>(v),
            Column::BigInt(v) => out.push_bind_param::<Array<BigInt>, _>(v),
            Column::Timestamp(v) => out.push_bind_param::<Array<Timestamp>, _>(v),
            Column::NullableTimestamp(v) => out.push_bind_param::<Array<Nullable<Timestamp>>, _>(v),
        }
    }

    /// Row `i`'s value as one parameter (SQLite).
    fn bind_one<'b>(&'b self, i: usize, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        match self {
            Column::Text(v) => out.push_bind_param::<Text, _>(&v[i]),
            Column::NullableText(v) => out.push_bind_param::<Nullable<Text>, _>(&v[i]),
            Column::BigInt(v) => out.push_bind_param::<BigInt, _>(&v[i]),
            Column::Timestamp(v) => out.push_bind_param::<Timestamp, _>(&v[i]),
            Column::NullableTimestamp(v) => out.push_bind_param::<Nullable<Timestamp>, _>(&v[i]),
        }
    }
}

/// Rows for one table, gathered column by column and written by [`Rows::insert`] or
/// [`Rows::add_to`].
#[derive(Debug, Clone)]
pub struct Rows {
    table: &'static str,
    names: &'static [(&'static str, ColumnType)],
    columns: Vec<Column>,
    len: usize,
    /// Set by a [`Rows::push`] whose values did not match the columns; the write then fails.
    mismatch: Option<String>,
}

impl Rows {
    /// `names` lists the columns (name and type) every row gives, in order.
    pub fn new(table: &'static str, names: &'static [(&'static str, ColumnType)]) -> Rows {
        Rows {
            table,
            names,
            columns: names.iter().map(|(_, t)| Column::new(*t)).collect(),
            len: 0,
            mismatch: None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a row: one value per column, in order. A row that does not fit the columns makes
    /// the later write fail (it is a mistake in the calling code, not in anybody's input).
    pub fn push(&mut self, row: Vec<Value>) {
        if self.mismatch.is_some() {
            return;
        }
        if row.len() != self.columns.len() {
            self.mismatch = Some(format!(
                "{}: a row of {} values for {} columns",
                self.table,
                row.len(),
                self.columns.len()
            ));
            return;
        }
        for (i, v) in row.into_iter().enumerate() {
            if !self.columns[i].push(v) {
                self.mismatch = Some(format!(
                    "{}.{}: a value of another type",
                    self.table, self.names[i].0
                ));
                // The columns now differ in length: nothing of this set may be written.
                return;
            }
        }
        self.len += 1;
    }

    /// Moves `other`'s rows (of the same table) after these.
    pub fn append(&mut self, other: Rows) {
        if self.table != other.table || self.names != other.names {
            self.mismatch
                .get_or_insert_with(|| format!("{}: appended rows of {}", self.table, other.table));
            return;
        }
        if let Some(m) = other.mismatch {
            self.mismatch.get_or_insert(m);
            return;
        }
        for (mine, theirs) in self.columns.iter_mut().zip(other.columns) {
            match (mine, theirs) {
                (Column::Text(a), Column::Text(b)) => a.extend(b),
                (Column::NullableText(a), Column::NullableText(b)) => a.extend(b),
                (Column::BigInt(a), Column::BigInt(b)) => a.extend(b),
                (Column::Timestamp(a), Column::Timestamp(b)) => a.extend(b),
                (Column::NullableTimestamp(a), Column::NullableTimestamp(b)) => a.extend(b),
                _ => unreachable!("same table, same column types"),
            }
        }
        self.len += other.len;
    }

    fn check(&self) -> QueryResult<()> {
        match &self.mismatch {
            Some(m) => Err(DieselError::QueryBuilderError(m.clone().into())),
            None => Ok(()),
        }
    }

    fn column_list(&self) -> String {
        self.names
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Inserts every row; returns how many were inserted.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        self.check()?;
        if self.len == 0 {
            return Ok(0);
        }
        let cols = self.column_list();
        match conn {
            DbConnection::Pg(c) => PgUnnest {
                head: format!("INSERT INTO {} ({cols}) SELECT * FROM unnest(", self.table),
                rows: self,
                tail: ")".into(),
            }
            .execute(c),
            DbConnection::Sqlite(c) => {
                // Many rows to a statement: SQLite then opens one statement journal and runs
                // one program for them all. Chunks of 32, 16 … 1 rows keep the texts, and so
                // the prepared statements diesel caches by text, to six per table.
                let head = format!("INSERT INTO {} ({cols}) VALUES ", self.table);
                let (mut from, mut n) = (0, 0);
                while from < self.len {
                    let left = (self.len - from).min(SQLITE_ROWS_PER_INSERT);
                    let count = 1 << left.ilog2();
                    n += SqliteValues {
                        head: &head,
                        rows: self,
                        from,
                        count,
                    }
                    .execute(c)?;
                    from += count;
                }
                Ok(n)
            }
        }
    }

    fn each_row(
        &self,
        c: &mut diesel::SqliteConnection,
        pieces: &[String],
        order: &[usize],
    ) -> QueryResult<usize> {
        let mut n = 0;
        for i in 0..self.len {
            n += SqliteRow {
                pieces,
                order,
                rows: self,
                i,
            }
            .execute(c)?;
        }
        Ok(n)
    }

    /// `UPDATE … SET a = a + ?, … , s = ? WHERE key = ?` for every row: the first column is
    /// the key, the next `adds` columns are added to, the rest are set. Keys must be distinct
    /// (PostgreSQL applies one source row per target row). Returns how many rows were updated.
    pub fn add_to(&self, conn: &mut DbConnection, adds: usize) -> QueryResult<usize> {
        self.check()?;
        if self.len == 0 {
            return Ok(0);
        }
        let (key, rest) = self
            .names
            .split_first()
            .ok_or_else(|| DieselError::QueryBuilderError("no key column".into()))?;
        let key = key.0;
        let t = self.table;
        match conn {
            DbConnection::Pg(c) => {
                let set = rest
                    .iter()
                    .enumerate()
                    .map(|(i, (n, _))| {
                        if i < adds {
                            format!("{n} = {t}.{n} + v.{n}")
                        } else {
                            format!("{n} = v.{n}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                PgUnnest {
                    head: format!("UPDATE {t} SET {set} FROM unnest("),
                    rows: self,
                    tail: format!(") AS v({}) WHERE {t}.{key} = v.{key}", self.column_list()),
                }
                .execute(c)
            }
            DbConnection::Sqlite(c) => {
                // Parameters in the statement's order: the added and set columns, then the key.
                let mut pieces: Vec<String> = rest
                    .iter()
                    .enumerate()
                    .map(|(i, (n, _))| {
                        let lead = if i == 0 {
                            format!("UPDATE {t} SET ")
                        } else {
                            ", ".into()
                        };
                        if i < adds {
                            format!("{lead}{n} = {n} + ")
                        } else {
                            format!("{lead}{n} = ")
                        }
                    })
                    .collect();
                pieces.push(format!(" WHERE {key} = "));
                pieces.push(String::new());
                let order: Vec<usize> = (1..self.columns.len()).chain([0]).collect();
                self.each_row(c, &pieces, &order)
            }
        }
    }
}

/// `head`, every column as an array parameter separated by commas, `tail`.
struct PgUnnest<'a> {
    head: String,
    rows: &'a Rows,
    tail: String,
}

impl QueryId for PgUnnest<'_> {
    type QueryId = ();
    // The text depends on the table and its columns only: diesel keys its prepared
    // statements by the text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for PgUnnest<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(&self.head);
        for (i, c) in self.rows.columns.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            c.bind_array(&mut out)?;
        }
        out.push_sql(&self.tail);
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for PgUnnest<'_> {}

/// The most rows one SQLite INSERT carries (a power of two).
const SQLITE_ROWS_PER_INSERT: usize = 32;

/// `head` and the rows `from .. from + count` as `(?, …), (?, …)` on SQLite.
struct SqliteValues<'a> {
    head: &'a str,
    rows: &'a Rows,
    from: usize,
    count: usize,
}

impl QueryId for SqliteValues<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Sqlite> for SqliteValues<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql(self.head);
        for i in self.from..self.from + self.count {
            out.push_sql(if i == self.from { "(" } else { ", (" });
            for (k, c) in self.rows.columns.iter().enumerate() {
                if k > 0 {
                    out.push_sql(", ");
                }
                c.bind_one(i, &mut out)?;
            }
            out.push_sql(")");
        }
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for SqliteValues<'_> {}

/// One row's statement on SQLite: `pieces[k]` before the `k`th parameter (the column
/// `order[k]` of row `i`), and the last piece after them.
struct SqliteRow<'a> {
    pieces: &'a [String],
    order: &'a [usize],
    rows: &'a Rows,
    i: usize,
}

impl QueryId for SqliteRow<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Sqlite> for SqliteRow<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        for (piece, col) in self.pieces.iter().zip(self.order) {
            out.push_sql(piece);
            self.rows.columns[*col].bind_one(self.i, &mut out)?;
        }
        out.push_sql(self.pieces.last().map(String::as_str).unwrap_or_default());
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for SqliteRow<'_> {}
