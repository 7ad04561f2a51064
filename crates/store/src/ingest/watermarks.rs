//! Source watermarks (SPEC §6 completeness): "everything up to `up_to` has
//! been sent" per fact source. A watermark only moves forward: a later value
//! replaces the stored one, an equal one is a duplicate, an earlier one is a
//! conflict (reported, not applied).

use std::collections::{BTreeSet, HashMap};

use floorline_core::{Fact, Timestamp, Watermark};

use super::{Conflict, IngestReport, MAX_BATCH_ITEMS};
use crate::db::{placeholders, rows_per_statement, Link, Val};
use crate::error::{Result, StoreError};

#[derive(sqlx::FromRow)]
struct WatermarkRow {
    source: String,
    up_to_ms: i64,
}

pub(crate) async fn fetch_watermarks(
    link: &mut Link,
    sources: Option<&BTreeSet<String>>,
) -> Result<Vec<Watermark>> {
    let rows: Vec<WatermarkRow> = match sources {
        None => {
            link.fetch_all(
                "SELECT source, up_to_ms FROM watermarks ORDER BY source",
                vec![],
            )
            .await?
        }
        Some(set) => {
            let list: Vec<&String> = set.iter().collect();
            let mut rows = Vec::new();
            for chunk in list.chunks(rows_per_statement(1)) {
                let args: Vec<Val> = chunk.iter().map(|s| Val::from(s.as_str())).collect();
                let sql = format!(
                    "SELECT source, up_to_ms FROM watermarks WHERE source IN {}",
                    placeholders(1, chunk.len())
                );
                rows.extend(link.fetch_all::<WatermarkRow>(&sql, args).await?);
            }
            rows
        }
    };
    Ok(rows
        .into_iter()
        .map(|r| Watermark {
            source: r.source,
            up_to: Timestamp(r.up_to_ms),
        })
        .collect())
}

pub(crate) async fn ingest_watermarks(
    link: &mut Link,
    items: &[Watermark],
) -> Result<IngestReport> {
    if items.len() > MAX_BATCH_ITEMS {
        return Err(StoreError::BatchTooLarge {
            items: items.len(),
            max: MAX_BATCH_ITEMS,
        });
    }
    let mut errs = Vec::new();
    for (i, w) in items.iter().enumerate() {
        w.check_item(&format!("{}[{i}]", Watermark::KIND), &mut errs);
    }
    if !errs.is_empty() {
        return Err(StoreError::Invalid(errs));
    }
    let sources: BTreeSet<String> = items.iter().map(|w| w.source.clone()).collect();
    let mut current: HashMap<String, i64> = fetch_watermarks(link, Some(&sources))
        .await?
        .into_iter()
        .map(|w| (w.source, w.up_to.0))
        .collect();
    let mut report = IngestReport::default();
    for (i, w) in items.iter().enumerate() {
        match current.get(&w.source).copied() {
            Some(old) if old == w.up_to.0 => report.duplicates += 1,
            Some(old) if old > w.up_to.0 => report.conflicts.push(Conflict {
                index: i,
                key: w.source.clone(),
                reason: format!("a watermark never moves back (stored: {})", Timestamp(old)),
            }),
            _ => {
                link.execute(
                    "INSERT INTO watermarks (source, up_to_ms) VALUES ($1, $2) \
                     ON CONFLICT (source) DO UPDATE SET up_to_ms = excluded.up_to_ms \
                     WHERE excluded.up_to_ms > watermarks.up_to_ms",
                    vec![w.source.clone().into(), w.up_to.0.into()],
                )
                .await?;
                current.insert(w.source.clone(), w.up_to.0);
                report.accepted += 1;
            }
        }
    }
    Ok(report)
}
