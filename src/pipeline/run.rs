//! A sequence of packages through the pipeline, in the order given: each is assessed in the
//! lineage built so far (from the history database when there is one, which then records every
//! package as it goes, else from the run), and the run's report is built. `check` drives it.

use crate::assessment::Assessment;
use crate::history::{HistoryError, HistoryStore};
use crate::package::ReadResult;
use crate::report::{Report, SolutionHistory};

use super::{InRunLineage, Input, Lineage, Pipeline, StoredLineage};

/// Assesses packages in the order they were read (for example by a
/// [`crate::package::ReadAhead`] started before the policies were compiled) and reports on
/// them. With `history`, the lineage is the database and every package read is recorded in
/// it; without, the lineage is what this run accepted.
pub fn check_packages(
    pipeline: &mut Pipeline<'_>,
    read: impl IntoIterator<Item = ReadResult>,
    history: Option<&HistoryStore>,
) -> Result<Report, HistoryError> {
    let read = read.into_iter();
    let mut assessments = Vec::with_capacity(read.size_hint().0);
    let mut in_run = InRunLineage::new();
    for (path, result) in read {
        let input = Input::read(path, result);
        let assessed = match history {
            Some(store) => {
                let assessed = pipeline.assess(input, &mut StoredLineage::new(store))?;
                if let Some(package) = &assessed.package {
                    store.record(&assessed.assessment, package)?;
                }
                assessed
            }
            None => pipeline.assess(input, &mut in_run as &mut dyn Lineage)?,
        };
        assessments.push(assessed.assessment);
    }
    let history = solution_histories(&assessments, history)?;
    Ok(pipeline.report(assessments, history))
}

/// The releases of each solution in `assessments`: from the store when there is one (it holds
/// this run's releases too), else from the run itself.
pub fn solution_histories(
    assessments: &[Assessment],
    store: Option<&HistoryStore>,
) -> Result<Vec<SolutionHistory>, HistoryError> {
    let mut names: Vec<&str> = Vec::new();
    for name in assessments.iter().filter_map(|r| r.unique_name.as_deref()) {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name);
        }
    }
    let mut histories = Vec::with_capacity(names.len());
    for name in names {
        let releases = match store {
            Some(store) => store
                .releases(Some(name))?
                .iter()
                .map(Assessment::summary)
                .collect(),
            None => assessments
                .iter()
                .filter(|r| {
                    r.unique_name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .map(Assessment::summary)
                .collect(),
        };
        histories.push(SolutionHistory {
            unique_name: name.to_owned(),
            releases,
        });
    }
    Ok(histories)
}
