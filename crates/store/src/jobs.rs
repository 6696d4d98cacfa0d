//! AWS IoT Jobs records behind [`ServiceTx`]: jobs and their executions, as the services layer
//! hands them over. A job is a row with the columns the store lists and times by (status,
//! target selection, creation time, its next timer) and a JSON body the store does not read; an
//! execution is a row per (job, thing, execution number) with its status, version, times,
//! status details (JSON text) and timers. The store computes nothing about jobs beyond the
//! earliest of two timers: which transitions are allowed, what counts as pending and when a job
//! completes are the services layer's rules.

use rusqlite::types::ToSql;
use rusqlite::{OptionalExtension, Row, params};

use crate::error::{SqlContext, StoreError};
use crate::page::{Page, PageRequest, parse_time_id_token, time_id_token};
use crate::services::ServiceTx;

/// One job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJob {
    /// The job id (unique).
    pub job_id: String,
    /// Its status text (`IN_PROGRESS`, `CANCELED`, `COMPLETED`, ...), for listing.
    pub status: String,
    /// `SNAPSHOT` or `CONTINUOUS`, for listing.
    pub target_selection: String,
    /// When it was created, milliseconds since the epoch.
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
    /// Its next timer (a rollout step), if any.
    pub deadline_ms: Option<i64>,
    /// Everything else, as JSON text the store does not interpret.
    pub body: String,
}

/// One job execution as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExecution {
    /// The job.
    pub job_id: String,
    /// The thing executing it.
    pub thing: String,
    /// Which execution of the job on this thing (1 for the first).
    pub execution_number: i64,
    /// Its status text (`QUEUED`, `IN_PROGRESS`, ...).
    pub status: String,
    /// Its version (optimistic lock).
    pub version: i64,
    /// When it was queued, milliseconds since the epoch.
    pub queued_ms: i64,
    /// When it started, if it has.
    pub started_ms: Option<i64>,
    /// When it last changed.
    pub updated_ms: i64,
    /// Its status details, a JSON object as text.
    pub status_details: String,
    /// When its step timer runs out, if one runs.
    pub step_deadline_ms: Option<i64>,
    /// When its in-progress timer runs out, if one runs.
    pub progress_deadline_ms: Option<i64>,
    /// Whether it was canceled with `force`.
    pub force_canceled: bool,
}

impl StoredExecution {
    /// The earlier of its two timers.
    pub fn deadline_ms(&self) -> Option<i64> {
        match (self.step_deadline_ms, self.progress_deadline_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// One job template as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJobTemplate {
    /// The template id (unique).
    pub template_id: String,
    /// When it was created, milliseconds since the epoch.
    pub created_ms: i64,
    /// Everything else, as JSON text the store does not interpret.
    pub body: String,
}

/// Which jobs a list returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs with this status text.
    pub status: Option<String>,
    /// Only jobs with this target selection.
    pub target_selection: Option<String>,
    /// Only jobs that target this thing group (by name).
    pub thing_group: Option<String>,
}

const JOB_COLUMNS: &str =
    "job_id, status, target_selection, created_ms, updated_ms, deadline_ms, body";
const EXECUTION_COLUMNS: &str = "job_id, thing, execution_number, status, version, queued_ms, \
     started_ms, updated_ms, status_details, step_deadline_ms, progress_deadline_ms, \
     force_canceled";

fn job_row(row: &Row<'_>) -> rusqlite::Result<StoredJob> {
    Ok(StoredJob {
        job_id: row.get(0)?,
        status: row.get(1)?,
        target_selection: row.get(2)?,
        created_ms: row.get(3)?,
        updated_ms: row.get(4)?,
        deadline_ms: row.get(5)?,
        body: row.get(6)?,
    })
}

fn execution_row(row: &Row<'_>) -> rusqlite::Result<StoredExecution> {
    Ok(StoredExecution {
        job_id: row.get(0)?,
        thing: row.get(1)?,
        execution_number: row.get(2)?,
        status: row.get(3)?,
        version: row.get(4)?,
        queued_ms: row.get(5)?,
        started_ms: row.get(6)?,
        updated_ms: row.get(7)?,
        status_details: row.get(8)?,
        step_deadline_ms: row.get(9)?,
        progress_deadline_ms: row.get(10)?,
        force_canceled: row.get(11)?,
    })
}

/// A `NUMBER:NAME` token of execution lists (names may hold `:`, numbers do not).
fn number_token(number: i64, name: &str) -> String {
    format!("{number}:{name}")
}

fn parse_number_token(token: &str) -> Result<(i64, &str), StoreError> {
    token
        .split_once(':')
        .and_then(|(n, name)| Some((n.parse().ok()?, name)))
        .ok_or_else(|| StoreError::InvalidToken {
            token: token.to_owned(),
        })
}

impl ServiceTx<'_> {
    /// The job `job_id`.
    pub fn job(&self, job_id: &str) -> Result<Option<StoredJob>, StoreError> {
        self.tx()
            .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?1"))
            .and_then(|mut stmt| stmt.query_row(params![job_id], job_row).optional())
            .ctx(self.tx().label(), "read job")
    }

    /// Writes a job, replacing what was there (its executions stay).
    pub fn put_job(&self, job: &StoredJob) -> Result<(), StoreError> {
        self.tx()
            .prepare_cached(
                "INSERT INTO jobs (job_id, status, target_selection, created_ms, updated_ms, \
                 deadline_ms, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, \
                 target_selection = excluded.target_selection, updated_ms = excluded.updated_ms, \
                 deadline_ms = excluded.deadline_ms, body = excluded.body",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    job.job_id,
                    job.status,
                    job.target_selection,
                    job.created_ms,
                    job.updated_ms,
                    job.deadline_ms,
                    job.body
                ])
            })
            .ctx(self.tx().label(), "write job")?;
        Ok(())
    }

    /// Records the thing groups `job_id` targets (for ListJobs' `thingGroupName`), replacing
    /// what was recorded.
    pub fn set_job_thing_groups(&self, job_id: &str, groups: &[String]) -> Result<(), StoreError> {
        let tx = self.tx();
        tx.prepare_cached("DELETE FROM job_thing_groups WHERE job_id = ?1")
            .and_then(|mut stmt| stmt.execute(params![job_id]))
            .ctx(tx.label(), "forget a job's thing groups")?;
        for group in groups {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO job_thing_groups (thing_group, job_id) VALUES (?1, ?2)",
            )
            .and_then(|mut stmt| stmt.execute(params![group, job_id]))
            .ctx(tx.label(), "record a job's thing group")?;
        }
        Ok(())
    }

    /// Deletes a job and every execution of it. Returns whether it existed.
    pub fn delete_job(&self, job_id: &str) -> Result<bool, StoreError> {
        let label = self.tx().label();
        self.tx()
            .prepare_cached("DELETE FROM job_thing_groups WHERE job_id = ?1")
            .and_then(|mut stmt| stmt.execute(params![job_id]))
            .ctx(label, "delete job thing groups")?;
        self.tx()
            .prepare_cached("DELETE FROM job_executions WHERE job_id = ?1")
            .and_then(|mut stmt| stmt.execute(params![job_id]))
            .ctx(label, "delete job executions")?;
        let n = self
            .tx()
            .prepare_cached("DELETE FROM jobs WHERE job_id = ?1")
            .and_then(|mut stmt| stmt.execute(params![job_id]))
            .ctx(label, "delete job")?;
        Ok(n > 0)
    }

    /// One page of jobs matching `filter`, sorted by creation time (the page's order) and id.
    pub fn jobs(
        &self,
        filter: &JobFilter,
        page: &PageRequest,
    ) -> Result<Page<StoredJob>, StoreError> {
        let label = self.tx().label();
        let after = match &page.token {
            None => None,
            Some(t) => Some(
                parse_time_id_token(t)
                    .ok_or_else(|| StoreError::InvalidToken { token: t.clone() })?,
            ),
        };
        let (ms, id) = after.unzip();
        let limit = page.probe_limit();
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE (?1 IS NULL OR (created_ms, job_id) {cmp} (?1, ?2)) \
             AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR target_selection = ?5) \
             AND (?6 IS NULL OR job_id IN \
                  (SELECT job_id FROM job_thing_groups WHERE thing_group = ?6)) \
             ORDER BY created_ms {dir}, job_id {dir} LIMIT ?3"
        );
        let values: [&dyn ToSql; 6] = [
            &ms,
            &id,
            &limit,
            &filter.status,
            &filter.target_selection,
            &filter.thing_group,
        ];
        let rows = self
            .tx()
            .prepare_cached(&sql)
            .and_then(|mut stmt| {
                stmt.query_map(values.as_slice(), job_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(label, "list jobs")?;
        Ok(Page::from_probe(rows, page, |j| {
            time_id_token(j.created_ms, &j.job_id)
        }))
    }

    /// How many jobs have the status `status`.
    pub fn job_count(&self, status: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .tx()
            .prepare_cached("SELECT count(*) FROM jobs WHERE status = ?1")
            .and_then(|mut stmt| stmt.query_row(params![status], |row| row.get(0)))
            .ctx(self.tx().label(), "count jobs")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` jobs whose timer is due at `now_ms`, earliest first.
    pub fn due_jobs(&self, now_ms: i64, limit: usize) -> Result<Vec<StoredJob>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx()
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE deadline_ms IS NOT NULL \
                 AND deadline_ms <= ?1 ORDER BY deadline_ms LIMIT ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![now_ms, limit], job_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx().label(), "read due jobs")
    }

    /// The execution `execution_number` of `job_id` on `thing`, or the latest one when `None`.
    pub fn execution(
        &self,
        job_id: &str,
        thing: &str,
        execution_number: Option<i64>,
    ) -> Result<Option<StoredExecution>, StoreError> {
        self.tx()
            .prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM job_executions WHERE job_id = ?1 AND thing = ?2 \
                 AND (?3 IS NULL OR execution_number = ?3) \
                 ORDER BY execution_number DESC LIMIT 1"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![job_id, thing, execution_number], execution_row)
                    .optional()
            })
            .ctx(self.tx().label(), "read job execution")
    }

    /// Writes an execution, replacing what was there. Its job must exist.
    pub fn put_execution(&self, execution: &StoredExecution) -> Result<(), StoreError> {
        self.tx()
            .prepare_cached(
                "INSERT INTO job_executions (job_id, thing, execution_number, status, version, \
                 queued_ms, started_ms, updated_ms, status_details, step_deadline_ms, \
                 progress_deadline_ms, force_canceled, deadline_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
                 ON CONFLICT (job_id, thing, execution_number) DO UPDATE SET \
                 status = excluded.status, version = excluded.version, \
                 started_ms = excluded.started_ms, updated_ms = excluded.updated_ms, \
                 status_details = excluded.status_details, \
                 step_deadline_ms = excluded.step_deadline_ms, \
                 progress_deadline_ms = excluded.progress_deadline_ms, \
                 force_canceled = excluded.force_canceled, deadline_ms = excluded.deadline_ms",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    execution.job_id,
                    execution.thing,
                    execution.execution_number,
                    execution.status,
                    execution.version,
                    execution.queued_ms,
                    execution.started_ms,
                    execution.updated_ms,
                    execution.status_details,
                    execution.step_deadline_ms,
                    execution.progress_deadline_ms,
                    execution.force_canceled,
                    execution.deadline_ms(),
                ])
            })
            .ctx(self.tx().label(), "write job execution")?;
        Ok(())
    }

    /// Deletes one execution. Returns whether it existed.
    pub fn delete_execution(
        &self,
        job_id: &str,
        thing: &str,
        execution_number: i64,
    ) -> Result<bool, StoreError> {
        let n = self
            .tx()
            .prepare_cached(
                "DELETE FROM job_executions WHERE job_id = ?1 AND thing = ?2 \
                 AND execution_number = ?3",
            )
            .and_then(|mut stmt| stmt.execute(params![job_id, thing, execution_number]))
            .ctx(self.tx().label(), "delete job execution")?;
        Ok(n > 0)
    }

    /// Every execution of `thing` whose status is one of `statuses`, in queue order (queued
    /// time, then job id).
    pub fn thing_executions_with_status(
        &self,
        thing: &str,
        statuses: &[&str],
    ) -> Result<Vec<StoredExecution>, StoreError> {
        let list = serde_json::Value::from(statuses.to_vec()).to_string();
        self.tx()
            .prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM job_executions WHERE thing = ?1 \
                 AND status IN (SELECT value FROM json_each(?2)) \
                 ORDER BY queued_ms, job_id, execution_number"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![thing, list], execution_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx().label(), "read pending job executions")
    }

    /// One page of the executions of `thing`, optionally of one status or one job, sorted by
    /// job id and execution number.
    pub fn thing_executions(
        &self,
        thing: &str,
        status: Option<&str>,
        job_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<StoredExecution>, StoreError> {
        let after = page.token.as_deref().map(parse_number_token).transpose()?;
        let (number, job) = after.unzip();
        let limit = page.probe_limit();
        let values: [&dyn ToSql; 6] = [&thing, &job, &number, &limit, &status, &job_id];
        let rows = self
            .tx()
            .prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM job_executions WHERE thing = ?1 \
                 AND (?2 IS NULL OR (job_id, execution_number) > (?2, ?3)) \
                 AND (?5 IS NULL OR status = ?5) AND (?6 IS NULL OR job_id = ?6) \
                 ORDER BY job_id, execution_number LIMIT ?4"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(values.as_slice(), execution_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx().label(), "list job executions of a thing")?;
        Ok(Page::from_probe(rows, page, |e| {
            number_token(e.execution_number, &e.job_id)
        }))
    }

    /// One page of the executions of `job_id`, optionally of one status, sorted by thing and
    /// execution number.
    pub fn job_executions(
        &self,
        job_id: &str,
        status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<StoredExecution>, StoreError> {
        let after = page.token.as_deref().map(parse_number_token).transpose()?;
        let (number, thing) = after.unzip();
        let limit = page.probe_limit();
        let values: [&dyn ToSql; 5] = [&job_id, &thing, &number, &limit, &status];
        let rows = self
            .tx()
            .prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM job_executions WHERE job_id = ?1 \
                 AND (?2 IS NULL OR (thing, execution_number) > (?2, ?3)) \
                 AND (?5 IS NULL OR status = ?5) \
                 ORDER BY thing, execution_number LIMIT ?4"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(values.as_slice(), execution_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx().label(), "list job executions of a job")?;
        Ok(Page::from_probe(rows, page, |e| {
            number_token(e.execution_number, &e.thing)
        }))
    }

    /// Every execution of `job_id` whose status is one of `statuses`, by thing.
    pub fn job_executions_with_status(
        &self,
        job_id: &str,
        statuses: &[&str],
    ) -> Result<Vec<StoredExecution>, StoreError> {
        let list = serde_json::Value::from(statuses.to_vec()).to_string();
        self.tx()
            .prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM job_executions WHERE job_id = ?1 \
                 AND status IN (SELECT value FROM json_each(?2)) \
                 ORDER BY thing, execution_number"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![job_id, list], execution_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx().label(), "read job executions of a job")
    }

    /// How many executions of `job_id` have each status, as (status text, count).
    pub fn execution_counts(&self, job_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        self.tx()
            .prepare_cached(
                "SELECT status, count(*) FROM job_executions WHERE job_id = ?1 GROUP BY status",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![job_id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx().label(), "count job executions")
    }

    /// Up to `limit` executions whose earlier timer is due at `now_ms`, earliest first.
    pub fn due_executions(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<StoredExecution>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx()
            .prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM job_executions WHERE deadline_ms IS NOT NULL \
                 AND deadline_ms <= ?1 ORDER BY deadline_ms LIMIT ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![now_ms, limit], execution_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx().label(), "read due job executions")
    }

    /// The earliest timer of any job or execution.
    pub fn next_job_deadline(&self) -> Result<Option<i64>, StoreError> {
        self.tx()
            .prepare_cached(
                "SELECT min(d) FROM (SELECT min(deadline_ms) AS d FROM jobs \
                 UNION ALL SELECT min(deadline_ms) FROM job_executions)",
            )
            .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
            .ctx(self.tx().label(), "read the next job timer")
    }

    /// The job template `template_id`.
    pub fn job_template(&self, template_id: &str) -> Result<Option<StoredJobTemplate>, StoreError> {
        self.tx()
            .prepare_cached(
                "SELECT template_id, created_ms, body FROM job_templates WHERE template_id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![template_id], |row| {
                    Ok(StoredJobTemplate {
                        template_id: row.get(0)?,
                        created_ms: row.get(1)?,
                        body: row.get(2)?,
                    })
                })
                .optional()
            })
            .ctx(self.tx().label(), "read job template")
    }

    /// Writes a new job template; `AlreadyExists` when the id is taken.
    pub fn insert_job_template(&self, template: &StoredJobTemplate) -> Result<(), StoreError> {
        let n = self
            .tx()
            .prepare_cached(
                "INSERT INTO job_templates (template_id, created_ms, body) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (template_id) DO NOTHING",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    template.template_id,
                    template.created_ms,
                    template.body
                ])
            })
            .ctx(self.tx().label(), "write job template")?;
        if n == 0 {
            return Err(StoreError::InvalidRequest(format!(
                "job template {} already exists",
                template.template_id
            )));
        }
        Ok(())
    }

    /// Deletes a job template. Returns whether it existed.
    pub fn delete_job_template(&self, template_id: &str) -> Result<bool, StoreError> {
        let n = self
            .tx()
            .prepare_cached("DELETE FROM job_templates WHERE template_id = ?1")
            .and_then(|mut stmt| stmt.execute(params![template_id]))
            .ctx(self.tx().label(), "delete job template")?;
        Ok(n > 0)
    }

    /// One page of job templates, sorted by id.
    pub fn job_templates(&self, page: &PageRequest) -> Result<Page<StoredJobTemplate>, StoreError> {
        let after = page.token.as_deref().unwrap_or("");
        let rows = self
            .tx()
            .prepare_cached(
                "SELECT template_id, created_ms, body FROM job_templates WHERE template_id > ?1 \
                 ORDER BY template_id LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![after, page.probe_limit()], |row| {
                    Ok(StoredJobTemplate {
                        template_id: row.get(0)?,
                        created_ms: row.get(1)?,
                        body: row.get(2)?,
                    })
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx().label(), "list job templates")?;
        Ok(Page::from_probe(rows, page, |t| t.template_id.clone()))
    }

    /// Whether the registry holds a thing named `name`.
    pub fn thing_exists(&self, name: &str) -> Result<bool, StoreError> {
        self.tx()
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM things WHERE name = ?1)")
            .and_then(|mut stmt| stmt.query_row(params![name], |row| row.get(0)))
            .ctx(self.tx().label(), "read thing")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Order, Store};

    fn job(id: &str, created_ms: i64, status: &str) -> StoredJob {
        StoredJob {
            job_id: id.to_owned(),
            status: status.to_owned(),
            target_selection: "SNAPSHOT".to_owned(),
            created_ms,
            updated_ms: created_ms,
            deadline_ms: None,
            body: "{}".to_owned(),
        }
    }

    fn execution(
        job: &str,
        thing: &str,
        number: i64,
        status: &str,
        queued_ms: i64,
    ) -> StoredExecution {
        StoredExecution {
            job_id: job.to_owned(),
            thing: thing.to_owned(),
            execution_number: number,
            status: status.to_owned(),
            version: 1,
            queued_ms,
            started_ms: None,
            updated_ms: queued_ms,
            status_details: "{}".to_owned(),
            step_deadline_ms: None,
            progress_deadline_ms: None,
            force_canceled: false,
        }
    }

    #[test]
    fn jobs_are_written_listed_by_filter_and_page_and_deleted_with_their_executions() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("test", |tx| {
                tx.put_job(&job("a", 1, "IN_PROGRESS"))?;
                tx.put_job(&job("b", 2, "COMPLETED"))?;
                tx.put_job(&job("c", 3, "IN_PROGRESS"))?;
                tx.put_execution(&execution("a", "t1", 1, "QUEUED", 1))?;
                tx.put_execution(&execution("a", "t2", 1, "QUEUED", 1))?;
                let newest_first = PageRequest {
                    token: None,
                    size: 2,
                    order: Order::Descending,
                };
                let first = tx.jobs(&JobFilter::default(), &newest_first)?;
                let ids: Vec<_> = first.items.iter().map(|j| j.job_id.as_str()).collect();
                assert_eq!(ids, ["c", "b"]);
                let next = newest_first.after(&first).unwrap();
                let second = tx.jobs(&JobFilter::default(), &next)?;
                assert_eq!(second.items.len(), 1);
                assert_eq!(second.next_token, None);
                let filter = JobFilter {
                    status: Some("IN_PROGRESS".to_owned()),
                    ..JobFilter::default()
                };
                let active = tx.jobs(&filter, &PageRequest::first(10))?;
                assert_eq!(active.items.len(), 2);
                assert_eq!(tx.job_count("IN_PROGRESS")?, 2);
                tx.set_job_thing_groups("a", &["fleet".to_owned(), "lab".to_owned()])?;
                tx.set_job_thing_groups("b", &["fleet".to_owned()])?;
                tx.set_job_thing_groups("b", &["lab".to_owned()])?;
                let of_group = |group: &str| {
                    let filter = JobFilter {
                        thing_group: Some(group.to_owned()),
                        ..JobFilter::default()
                    };
                    let page = tx.jobs(&filter, &PageRequest::first(10)).unwrap();
                    page.items.into_iter().map(|j| j.job_id).collect::<Vec<_>>()
                };
                assert_eq!(of_group("fleet"), ["a"]);
                assert_eq!(of_group("lab"), ["a", "b"]);
                assert_eq!(of_group("ghost"), Vec::<String>::new());
                assert!(tx.delete_job("a")?);
                assert_eq!(of_group("lab"), ["b"]);
                assert!(!tx.delete_job("a")?);
                assert_eq!(tx.execution("a", "t1", None)?, None);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn executions_are_read_by_number_listed_in_queue_order_and_counted() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("test", |tx| {
                tx.put_job(&job("j1", 1, "IN_PROGRESS"))?;
                tx.put_job(&job("j2", 2, "IN_PROGRESS"))?;
                tx.put_execution(&execution("j2", "t", 1, "QUEUED", 20))?;
                tx.put_execution(&execution("j1", "t", 1, "FAILED", 10))?;
                tx.put_execution(&execution("j1", "t", 2, "IN_PROGRESS", 30))?;
                tx.put_execution(&execution("j1", "u", 1, "QUEUED", 10))?;
                assert_eq!(tx.execution("j1", "t", None)?.unwrap().execution_number, 2);
                assert_eq!(tx.execution("j1", "t", Some(1))?.unwrap().status, "FAILED");
                assert_eq!(tx.execution("j1", "t", Some(9))?, None);
                let pending = tx.thing_executions_with_status("t", &["QUEUED", "IN_PROGRESS"])?;
                let order: Vec<_> = pending
                    .iter()
                    .map(|e| (e.job_id.as_str(), e.execution_number))
                    .collect();
                assert_eq!(order, [("j2", 1), ("j1", 2)]);
                let page = tx.thing_executions("t", None, None, &PageRequest::first(2))?;
                assert_eq!(page.items.len(), 2);
                let rest = tx.thing_executions(
                    "t",
                    None,
                    None,
                    &PageRequest::first(2).after(&page).unwrap(),
                )?;
                assert_eq!(rest.items.len(), 1);
                assert_eq!(rest.items[0].job_id, "j2");
                let failed =
                    tx.thing_executions("t", Some("FAILED"), None, &PageRequest::first(9))?;
                assert_eq!(failed.items.len(), 1);
                let of_job = tx.job_executions("j1", None, &PageRequest::first(2))?;
                assert_eq!(of_job.items.len(), 2);
                assert!(of_job.next_token.is_some());
                let mut counts = tx.execution_counts("j1")?;
                counts.sort();
                assert_eq!(
                    counts,
                    [
                        ("FAILED".to_owned(), 1),
                        ("IN_PROGRESS".to_owned(), 1),
                        ("QUEUED".to_owned(), 1)
                    ]
                );
                assert!(tx.delete_execution("j1", "u", 1)?);
                assert_eq!(tx.job_executions_with_status("j1", &["QUEUED"])?, []);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn timers_are_found_by_the_earliest_deadline() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("test", |tx| {
                assert_eq!(tx.next_job_deadline()?, None);
                let mut j = job("j", 1, "IN_PROGRESS");
                j.deadline_ms = Some(500);
                tx.put_job(&j)?;
                let mut e = execution("j", "t", 1, "IN_PROGRESS", 1);
                e.step_deadline_ms = Some(300);
                e.progress_deadline_ms = Some(200);
                tx.put_execution(&e)?;
                assert_eq!(tx.next_job_deadline()?, Some(200));
                assert_eq!(tx.due_executions(199, 10)?, []);
                assert_eq!(tx.due_executions(200, 10)?.len(), 1);
                assert_eq!(tx.due_jobs(499, 10)?, []);
                assert_eq!(tx.due_jobs(500, 10)?.len(), 1);
                e.step_deadline_ms = None;
                e.progress_deadline_ms = None;
                tx.put_execution(&e)?;
                assert_eq!(tx.next_job_deadline()?, Some(500));
                assert!(!tx.thing_exists("t")?);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn job_templates_are_written_once_listed_by_id_and_deleted() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("test", |tx| {
                let template = |id: &str| StoredJobTemplate {
                    template_id: id.to_owned(),
                    created_ms: 1,
                    body: "{}".to_owned(),
                };
                tx.insert_job_template(&template("b"))?;
                tx.insert_job_template(&template("a"))?;
                assert!(tx.insert_job_template(&template("a")).is_err());
                let first = tx.job_templates(&PageRequest::first(1))?;
                assert_eq!(first.items[0].template_id, "a");
                let next = PageRequest::first(1).after(&first).unwrap();
                assert_eq!(tx.job_templates(&next)?.items[0].template_id, "b");
                assert!(tx.delete_job_template("a")?);
                assert_eq!(tx.job_template("a")?, None);
                assert!(tx.job_template("b")?.is_some());
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_token_this_store_did_not_hand_out_is_refused() {
        let mut store = Store::open_in_memory().unwrap();
        let page = PageRequest {
            token: Some("nonsense".to_owned()),
            size: 5,
            order: Order::Ascending,
        };
        let result = store.services("test", |tx| tx.job_executions("j", None, &page));
        assert!(matches!(result, Err(StoreError::InvalidToken { .. })));
    }
}
