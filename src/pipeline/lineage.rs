//! Release lineage: where a package stands among the accepted releases of its solution, and so
//! what it is compared with. The rules follow how Dataverse ships solutions:
//!
//! - **Twins.** One version exported managed and unmanaged is one release in two forms. A
//!   release is compared with the last accepted release of the same unique name *in the same
//!   form* (`previous`); the other form only tells whether the line switched form.
//! - **Patches** (`ParentSolution` in the manifest) hang off the *current accepted base
//!   release* of their parent (`parent`, preferring the patch's own form) and are compared with
//!   the parent's other accepted patches since that base (`patches`).
//! - **Roll-ups.** A new base release replaces the previous base and all its accepted patches:
//!   what the target holds (`installed`) is the previous base with those patches merged in,
//!   and that is what its data-loss comparison runs against.
//!
//! One algorithm serves every source of accepted releases: the history database
//! ([`StoredLineage`]), or the releases accepted so far in a run or an audit ([`InRunLineage`]).

use std::collections::HashMap;
use std::sync::Arc;

use crate::assessment::Assessment;
use crate::eval::{HistoryEntry, Related};
use crate::history::{AcceptedRelease, HistoryError, HistoryStore};
use crate::package::{installed_state, ManagedState, Package, SolutionVersion};

/// Where accepted releases come from.
pub trait ReleaseSource {
    /// Accepted releases of `unique_name` (case-insensitive), in the order they were accepted.
    fn accepted(&self, unique_name: &str) -> Result<Vec<AcceptedRelease>, HistoryError>;
    /// Accepted patches whose parent is `parent`, in the order they were accepted.
    fn patches_of(&self, parent: &str) -> Result<Vec<AcceptedRelease>, HistoryError>;
    /// The model of an accepted release.
    fn load(&self, release: &AcceptedRelease) -> Result<Option<Arc<Package>>, HistoryError>;
}

/// A package's lineage: what it is compared with, and how an accepted release joins it.
pub trait Lineage {
    fn related(&self, package: &Package) -> Result<Related, HistoryError>;
    /// Adds an accepted release. Store-backed lineages record it with the rest of the
    /// assessment instead (in one transaction), so this does nothing there.
    fn accept(&mut self, assessment: &Assessment, package: &Arc<Package>);
}

/// Whether a release in form `a` can be compared with one in form `b`. An unpacked tree that
/// holds both forms (`Managed` 2) is comparable with either.
pub fn same_form(a: ManagedState, b: ManagedState) -> bool {
    a == b || a == ManagedState::Both || b == ManagedState::Both
}

fn same_version(a: &str, b: &str) -> bool {
    match (SolutionVersion::parse(a), SolutionVersion::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim() == b.trim(),
    }
}

/// Loads each release at most once per lookup.
struct Loader<'s, S: ReleaseSource + ?Sized> {
    source: &'s S,
    loaded: HashMap<(String, i64), Option<Arc<Package>>>,
}

impl<S: ReleaseSource + ?Sized> Loader<'_, S> {
    fn load(
        &mut self,
        release: Option<&AcceptedRelease>,
    ) -> Result<Option<Arc<Package>>, HistoryError> {
        let Some(release) = release else {
            return Ok(None);
        };
        let key = (release.unique_name.to_lowercase(), release.id);
        if let Some(found) = self.loaded.get(&key) {
            return Ok(found.clone());
        }
        let package = self.source.load(release)?;
        self.loaded.insert(key, package.clone());
        Ok(package)
    }
}

/// The latest accepted release of each patch unique name among `patches`, accepted after row
/// `after` and in a form comparable with `form`, leaving out `except` (the package's own name).
fn current_patches(
    patches: Vec<AcceptedRelease>,
    after: i64,
    form: ManagedState,
    except: &str,
) -> Vec<AcceptedRelease> {
    let mut latest: Vec<AcceptedRelease> = Vec::new();
    for patch in patches {
        if patch.id <= after
            || !same_form(patch.entry.managed, form)
            || patch.unique_name.eq_ignore_ascii_case(except)
        {
            continue;
        }
        match latest
            .iter_mut()
            .find(|p| p.unique_name.eq_ignore_ascii_case(&patch.unique_name))
        {
            Some(existing) => *existing = patch,
            None => latest.push(patch),
        }
    }
    latest
}

/// The releases `package` is compared with, from `source`.
pub fn related_from<S: ReleaseSource + ?Sized>(
    source: &S,
    package: &Package,
) -> Result<Related, HistoryError> {
    let mut loader = Loader {
        source,
        loaded: HashMap::new(),
    };
    let form = package.managed;
    let own = source.accepted(&package.unique_name)?;
    let previous_row = own.iter().rev().find(|r| same_form(r.entry.managed, form));
    let other_row = own.iter().rev().find(|r| !same_form(r.entry.managed, form));
    let twin_row = own.iter().rev().find(|r| {
        !same_form(r.entry.managed, form) && same_version(&r.entry.version, &package.version)
    });
    let mut related = Related {
        previous: loader.load(previous_row)?,
        other_form: loader.load(other_row)?,
        twin: loader.load(twin_row)?,
        history: own.iter().map(|r| r.entry.clone()).collect(),
        ..Related::default()
    };
    match &package.parent {
        Some(parent) => {
            let bases = source.accepted(&parent.unique_name)?;
            let is_base = |r: &&AcceptedRelease| r.entry.patch_of.is_none();
            let parent_row = bases
                .iter()
                .rev()
                .filter(is_base)
                .find(|r| same_form(r.entry.managed, form))
                .or_else(|| bases.iter().rev().find(is_base))
                // Only patches under that name: the parent named is itself a patch.
                .or_else(|| bases.last());
            related.parent = loader.load(parent_row)?;
            if let Some(parent_row) = parent_row {
                let patches = current_patches(
                    source.patches_of(&parent.unique_name)?,
                    parent_row.id,
                    form,
                    &package.unique_name,
                );
                for patch in &patches {
                    related.patches.extend(loader.load(Some(patch))?);
                }
            }
            related.installed = related.previous.clone();
        }
        None => {
            if let Some(previous_row) = previous_row {
                let patches = current_patches(
                    source.patches_of(&package.unique_name)?,
                    previous_row.id,
                    form,
                    &package.unique_name,
                );
                for patch in &patches {
                    related.patches.extend(loader.load(Some(patch))?);
                }
            }
            related.installed = match (&related.previous, related.patches.is_empty()) {
                (Some(base), false) => {
                    let patches: Vec<&Package> = related.patches.iter().map(|p| &**p).collect();
                    Some(Arc::new(installed_state(base, &patches)))
                }
                (previous, _) => previous.clone(),
            };
        }
    }
    Ok(related)
}

/// The releases accepted so far in one run (a `check` without history, an audit, a policy
/// test case), in memory.
#[derive(Default)]
pub struct InRunLineage {
    releases: Vec<(AcceptedRelease, Arc<Package>)>,
}

impl InRunLineage {
    pub fn new() -> Self {
        Self::default()
    }
}

impl ReleaseSource for InRunLineage {
    fn accepted(&self, unique_name: &str) -> Result<Vec<AcceptedRelease>, HistoryError> {
        Ok(self
            .releases
            .iter()
            .filter(|(r, _)| r.unique_name.eq_ignore_ascii_case(unique_name))
            .map(|(r, _)| r.clone())
            .collect())
    }

    fn patches_of(&self, parent: &str) -> Result<Vec<AcceptedRelease>, HistoryError> {
        Ok(self
            .releases
            .iter()
            .filter(|(r, _)| {
                r.entry
                    .patch_of
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(parent))
            })
            .map(|(r, _)| r.clone())
            .collect())
    }

    fn load(&self, release: &AcceptedRelease) -> Result<Option<Arc<Package>>, HistoryError> {
        Ok(usize::try_from(release.id)
            .ok()
            .and_then(|index| self.releases.get(index))
            .map(|(_, package)| Arc::clone(package)))
    }
}

impl Lineage for InRunLineage {
    fn related(&self, package: &Package) -> Result<Related, HistoryError> {
        related_from(self, package)
    }

    fn accept(&mut self, assessment: &Assessment, package: &Arc<Package>) {
        let release = AcceptedRelease {
            id: self.releases.len() as i64,
            unique_name: package.unique_name.clone(),
            entry: history_entry(assessment, package),
        };
        self.releases.push((release, Arc::clone(package)));
    }
}

/// What `context.history` shows of an accepted release.
pub fn history_entry(assessment: &Assessment, package: &Package) -> HistoryEntry {
    HistoryEntry {
        version: package.version.clone(),
        publisher: package.publisher.unique_name.clone(),
        managed: package.managed,
        sha256: assessment.sha256.clone(),
        when: assessment.checked_at,
        exported_at: package.exported_at.map(|t| t.0),
        patch_of: package.parent.as_ref().map(|p| p.unique_name.clone()),
    }
}

/// A lineage looked up in advance: the daemon reads it from the database, then evaluates
/// without holding the database. Accepting records nothing (the publish step does).
#[derive(Default)]
pub struct ResolvedLineage(pub Related);

impl ResolvedLineage {
    pub fn of(lineage: &dyn Lineage, package: &Package) -> Result<Self, HistoryError> {
        lineage.related(package).map(Self)
    }
}

impl Lineage for ResolvedLineage {
    fn related(&self, _package: &Package) -> Result<Related, HistoryError> {
        Ok(self.0.clone())
    }

    fn accept(&mut self, _assessment: &Assessment, _package: &Arc<Package>) {}
}

/// The accepted releases recorded in a history database.
pub struct StoredLineage<'s> {
    store: &'s HistoryStore,
}

impl<'s> StoredLineage<'s> {
    pub fn new(store: &'s HistoryStore) -> Self {
        Self { store }
    }
}

impl ReleaseSource for StoredLineage<'_> {
    fn accepted(&self, unique_name: &str) -> Result<Vec<AcceptedRelease>, HistoryError> {
        self.store.accepted_releases(unique_name)
    }

    fn patches_of(&self, parent: &str) -> Result<Vec<AcceptedRelease>, HistoryError> {
        self.store.accepted_patches_of(parent)
    }

    fn load(&self, release: &AcceptedRelease) -> Result<Option<Arc<Package>>, HistoryError> {
        Ok(self.store.snapshot_of(release.id)?.map(Arc::new))
    }
}

impl Lineage for StoredLineage<'_> {
    fn related(&self, package: &Package) -> Result<Related, HistoryError> {
        related_from(self, package)
    }

    fn accept(&mut self, _assessment: &Assessment, _package: &Arc<Package>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{Attribute, Entity, ParentSolution};

    fn release(name: &str, version: &str, managed: ManagedState, columns: &[&str]) -> Package {
        let mut package = Package {
            unique_name: name.into(),
            version: version.into(),
            solution_version: SolutionVersion::parse(version).ok(),
            managed,
            ..Package::default()
        };
        package.source.path = format!("{name}_{version}_{}.zip", managed.as_str()).into();
        package.entities.push(Entity {
            name: "con_project".into(),
            schema_name: "con_Project".into(),
            attributes: columns
                .iter()
                .map(|c| Attribute {
                    name: (*c).into(),
                    custom: true,
                    ..Attribute::default()
                })
                .collect(),
            ..Entity::default()
        });
        package
    }

    fn patch(name: &str, version: &str, parent: &str, managed: ManagedState) -> Package {
        let mut package = release(name, version, managed, &["con_patched"]);
        package.parent = Some(ParentSolution {
            unique_name: parent.into(),
            ..ParentSolution::default()
        });
        package
    }

    fn accept(lineage: &mut InRunLineage, package: Package) {
        let package = Arc::new(package);
        let assessment = Assessment::of_package(package.source.path.clone(), &package, "");
        lineage.accept(&assessment, &package);
    }

    /// A lineage that accepted `releases`, in order.
    fn lineage_of(releases: Vec<Package>) -> InRunLineage {
        let mut lineage = InRunLineage::new();
        for package in releases {
            accept(&mut lineage, package);
        }
        lineage
    }

    fn version(package: &Option<Arc<Package>>) -> Option<&str> {
        package.as_ref().map(|p| p.version.as_str())
    }

    #[test]
    fn twins_are_compared_with_their_own_form() {
        let lineage = lineage_of(vec![
            release("Sol", "1.0.0.0", ManagedState::Unmanaged, &[]),
            release("Sol", "1.0.0.0", ManagedState::Managed, &[]),
            release("Sol", "1.1.0.0", ManagedState::Unmanaged, &[]),
        ]);
        let managed = release("Sol", "1.1.0.0", ManagedState::Managed, &[]);
        let related = lineage.related(&managed).expect("in memory");
        assert_eq!(version(&related.previous), Some("1.0.0.0"));
        assert_eq!(
            related.previous.as_ref().map(|p| p.managed),
            Some(ManagedState::Managed)
        );
        assert_eq!(version(&related.twin), Some("1.1.0.0"));
        assert_eq!(version(&related.other_form), Some("1.1.0.0"));
        assert_eq!(related.history.len(), 3);
    }

    #[test]
    fn first_release_of_a_form_has_no_previous_but_knows_the_other_form() {
        let lineage = lineage_of(vec![release("Sol", "1.0.0.0", ManagedState::Managed, &[])]);
        let unmanaged = release("Sol", "1.1.0.0", ManagedState::Unmanaged, &[]);
        let related = lineage.related(&unmanaged).expect("in memory");
        assert!(related.previous.is_none());
        assert!(related.twin.is_none());
        assert_eq!(version(&related.other_form), Some("1.0.0.0"));
    }

    #[test]
    fn a_patch_hangs_off_the_current_base_of_its_form_and_sees_other_patches() {
        let lineage = lineage_of(vec![
            release("Sol", "1.0.0.0", ManagedState::Unmanaged, &[]),
            release("Sol", "1.0.0.0", ManagedState::Managed, &[]),
            patch("Sol_Patch_a", "1.0.1.0", "Sol", ManagedState::Managed),
            patch("Sol_Patch_a", "1.0.1.1", "Sol", ManagedState::Managed),
            patch("Sol_Patch_u", "1.0.1.0", "Sol", ManagedState::Unmanaged),
        ]);
        let second = patch("Sol_Patch_b", "1.0.2.0", "Sol", ManagedState::Managed);
        let related = lineage.related(&second).expect("in memory");
        let parent = related.parent.as_ref().expect("parent found");
        assert_eq!(
            (parent.version.as_str(), parent.managed),
            ("1.0.0.0", ManagedState::Managed)
        );
        let patches: Vec<(&str, &str)> = related
            .patches
            .iter()
            .map(|p| (p.unique_name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            patches,
            [("Sol_Patch_a", "1.0.1.1")],
            "newest of each patch, same form"
        );
    }

    #[test]
    fn a_roll_up_is_compared_with_the_base_plus_its_patches() {
        let mut lineage = lineage_of(vec![
            release("Sol", "1.0.0.0", ManagedState::Managed, &["con_a"]),
            patch("Sol_Patch_a", "1.0.1.0", "Sol", ManagedState::Managed),
        ]);
        let roll_up = release("Sol", "1.1.0.0", ManagedState::Managed, &["con_a"]);
        let related = lineage.related(&roll_up).expect("in memory");
        assert_eq!(version(&related.previous), Some("1.0.0.0"));
        assert_eq!(related.patches.len(), 1);
        let installed = related.installed.as_ref().expect("installed state");
        let columns: Vec<&str> = installed.entities[0]
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(columns, ["con_a", "con_patched"]);
        let from_patch = &installed.entities[0].attributes[1].location;
        assert_eq!(
            from_patch.package.as_deref(),
            Some("Sol_Patch_a_1.0.1.0_managed.zip"),
            "a column that came in a patch points into the patch"
        );
        // The roll-up, once accepted, replaces the base and its patches.
        accept(&mut lineage, roll_up);
        let next = release("Sol", "1.2.0.0", ManagedState::Managed, &["con_a"]);
        let related = lineage.related(&next).expect("in memory");
        assert!(related.patches.is_empty());
        assert_eq!(version(&related.installed), Some("1.1.0.0"));
    }

    #[test]
    fn a_patch_of_a_patch_finds_the_patch_as_parent() {
        let lineage = lineage_of(vec![
            release("Sol", "1.0.0.0", ManagedState::Managed, &[]),
            patch("Sol_Patch_a", "1.0.1.0", "Sol", ManagedState::Managed),
        ]);
        let nested = patch(
            "Sol_Patch_b",
            "1.0.1.1",
            "Sol_Patch_a",
            ManagedState::Managed,
        );
        let related = lineage.related(&nested).expect("in memory");
        assert!(related.parent.as_ref().is_some_and(|p| p.is_patch()));
    }

    #[test]
    fn a_patch_whose_parent_was_never_seen_has_no_parent() {
        let lineage = InRunLineage::new();
        let orphan = patch("Sol_Patch_a", "1.0.1.0", "Sol", ManagedState::Managed);
        let related = lineage.related(&orphan).expect("in memory");
        assert!(related.parent.is_none() && related.patches.is_empty());
    }
}
