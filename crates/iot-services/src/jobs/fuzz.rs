//! The body of the `jobs_request` fuzz target (`fuzz/fuzz_targets/jobs_request.rs`), kept in
//! the crate so the fuzzer and the test that replays its seed corpus run the same code. It is
//! not a general-purpose API.

use super::control;
use super::error::{ErrorCode, JobsError};
use super::execution::{Execution, StepTimeout, Timers};
use super::request;
use super::response;
use super::settings::JobsSettings;
use super::status::ExecutionStatus;
use super::topic;

/// An invariant of the Jobs request parsers or the execution state machine that an input broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("jobs_request invariant broken: {0}")]
pub struct BrokenInvariant(pub String);

/// Feeds `data` as a device request payload to every device API's parser and applies what
/// parses to a QUEUED, an IN_PROGRESS and a CANCELED execution; as a control-plane body to
/// every control parser; and as a topic to the topic parser. Nothing may panic; an accepted
/// update grows the version by one and leaves a terminal execution untouched; a refusal changes
/// nothing, and a state refusal carries the execution's state.
pub fn request(data: &[u8]) -> Result<(), BrokenInvariant> {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = topic::parse(text);
        let _ = control::document_source(text);
        let _ = control::check_document(text);
    }
    let token = request::client_token(data);
    let map = match request::object(data) {
        Ok(map) => map,
        Err(e) => {
            let _ = response::error(&e, token.as_deref(), 0);
            return Ok(());
        }
    };
    let _ = request::start_next(&map);
    let _ = request::describe(&map);
    let settings = JobsSettings::default();
    let _ = control::create_job("job", &map, &settings);
    let _ = control::update_job(&map);
    let _ = control::cancel_job(&map);
    let _ = control::cancel_execution(&map);
    let Ok(update) = request::update(&map) else {
        return Ok(());
    };
    let timers = Timers {
        minute_ms: 60_000,
        in_progress_minutes: Some(5),
    };
    for start in [
        ExecutionStatus::Queued,
        ExecutionStatus::InProgress,
        ExecutionStatus::Canceled,
    ] {
        let mut e = Execution::queued("job", "thing", 1, 1_000);
        match start {
            ExecutionStatus::InProgress => {
                e.start(None, StepTimeout::Set(1), &timers, 2_000);
            }
            ExecutionStatus::Canceled => {
                e.cancel_with_job(false, 2_000);
            }
            _ => {}
        }
        let before = e.clone();
        match e.update(&update.update, &timers, 3_000) {
            Ok(()) => {
                if before.status.is_terminal() {
                    return Err(BrokenInvariant("a terminal execution changed".into()));
                }
                if e.version != before.version + 1 {
                    return Err(BrokenInvariant("the version did not grow by one".into()));
                }
                if e.deadline_ms().is_some() && e.status != ExecutionStatus::InProgress {
                    return Err(BrokenInvariant("a timer runs outside IN_PROGRESS".into()));
                }
            }
            Err(error) => check_refusal(&before, &e, &error)?,
        }
        let _ = response::execution(&e, Some("{}"), response::DocumentForm::Object, true, 4_000);
    }
    Ok(())
}

fn check_refusal(
    before: &Execution,
    after: &Execution,
    error: &JobsError,
) -> Result<(), BrokenInvariant> {
    if before != after {
        return Err(BrokenInvariant(format!(
            "a refused update changed the execution: {error}"
        )));
    }
    let carries_state = matches!(
        error.code,
        ErrorCode::InvalidStateTransition | ErrorCode::VersionMismatch
    );
    if carries_state != error.execution_state.is_some() {
        return Err(BrokenInvariant(format!(
            "{error} and its execution state disagree"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/corpus/jobs_request"
        );
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            request(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            replayed += 1;
        }
        assert!(
            replayed >= 10,
            "expected the seed corpus in {dir}, found {replayed}"
        );
    }
}
