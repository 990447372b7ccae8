//! Property tests for `SolutionVersion`: ordering is numeric part by part with missing parts as
//! zero, text round-trips, and nothing that is not 2 to 4 non-negative integers parses.

use proptest::prelude::*;
use solguard::package::SolutionVersion;

fn parts() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(prop_oneof![0u32..20, any::<u32>()], 2..=4)
}

fn text(parts: &[u32]) -> String {
    parts
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn padded(parts: &[u32]) -> [u32; 4] {
    let mut full = [0; 4];
    full[..parts.len()].copy_from_slice(parts);
    full
}

proptest! {
    #[test]
    fn order_is_numeric_with_missing_parts_as_zero(a in parts(), b in parts()) {
        let va = SolutionVersion::parse(&text(&a)).expect("valid");
        let vb = SolutionVersion::parse(&text(&b)).expect("valid");
        prop_assert_eq!(va.cmp(&vb), padded(&a).cmp(&padded(&b)));
        prop_assert_eq!(va == vb, padded(&a) == padded(&b));
    }

    #[test]
    fn text_is_kept_and_trailing_zeros_do_not_matter(a in parts()) {
        let written = text(&a);
        let version = SolutionVersion::parse(&written).expect("valid");
        prop_assert_eq!(version.to_string(), written.clone());
        prop_assert_eq!(version.part_count(), a.len());
        let normalized = SolutionVersion::parse(&version.normalized()).expect("valid");
        prop_assert_eq!(&normalized, &version);
        if a.len() < 4 {
            let longer = SolutionVersion::parse(&format!("{written}.0")).expect("valid");
            prop_assert_eq!(longer, version);
        }
    }

    #[test]
    fn zero_padding_compares_numerically(a in parts(), pad in 1usize..4) {
        let padded_text = a.iter().map(|p| format!("{}{p}", "0".repeat(pad))).collect::<Vec<_>>().join(".");
        let plain = SolutionVersion::parse(&text(&a)).expect("valid");
        let zero_padded = SolutionVersion::parse(&padded_text).expect("valid");
        prop_assert_eq!(plain, zero_padded);
    }

    #[test]
    fn sorting_agrees_with_padded_tuples(list in prop::collection::vec(parts(), 1..30)) {
        let mut versions: Vec<SolutionVersion> =
            list.iter().map(|p| SolutionVersion::parse(&text(p)).expect("valid")).collect();
        versions.sort();
        for pair in versions.windows(2) {
            prop_assert!(pair[0].parts() <= pair[1].parts());
        }
    }

    #[test]
    fn anything_else_is_an_error_never_a_panic(input in "\\PC{0,24}") {
        let result = SolutionVersion::parse(&input);
        let trimmed = input.trim();
        let pieces: Vec<&str> = trimmed.split('.').collect();
        let well_formed = (2..=4).contains(&pieces.len())
            && pieces.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u32>().is_ok());
        prop_assert_eq!(result.is_ok(), well_formed, "{:?}", input);
    }

    #[test]
    fn more_than_four_parts_is_invalid(a in prop::collection::vec(0u32..100, 5..8)) {
        prop_assert!(SolutionVersion::parse(&text(&a)).is_err());
    }
}

#[test]
fn documented_examples_hold() {
    let v = |t: &str| SolutionVersion::parse(t).expect("valid");
    assert!(v("1.9") < v("1.14"));
    assert!(v("1.97") < v("1.992"));
    assert_eq!(v("1.2"), v("1.2.0.0"));
    assert!(
        v("1.0.0.7") < v("1.2"),
        "Theming 1.0.0.7 -> 1.2 is an upgrade"
    );
    assert!(
        v("1.0.0.2") > v("1.0.0.1"),
        "GymMembershipRegistration went down"
    );
}
