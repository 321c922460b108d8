//! The invariants (I1-I15, P1-P2 in main.rs) checked on one generated
//! case, and the runs that count what the generator produced.

use super::generators::{Alone, Case, Op, case_strategy};
use super::support::HOST_ERROR;
use contract_model::{self as model, Edit, Verdict, check_message_bounds, header_count};
use policy_host::fixture_table::{Evaluator, Outcome, check_mutation_invariants};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use readonly_rootfs_policy::mutate::injected_volume_name;
use serde_json::{Value, json};
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Instant;

/// Marks a disagreement of policy.wasm with the native core (I10).
pub const DISAGREEMENT: &str = "<I10 DISAGREEMENT";

#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    cases: u32,
    accept: u32,
    mutate: u32,
    reject: u32,
    windows: u32,
    mutations_adding_volumes: u32,
    injected_volumes: u32,
    /// Injected names that are not the first choice (taken or too long).
    renamed_volumes: u32,
    explicit_false_rejects: u32,
    /// Pod UPDATEs rejected because a container whose image changed
    /// violates the policy.
    image_change_rejects: u32,
    /// Injected mounts at a path only a rule requires.
    rule_path_mounts: u32,
    /// Cases with warnings (other than the Windows one).
    warned: u32,
    /// The image-change property: Pod UPDATEs, accepted or rejected in
    /// validate-only mode, ...
    pod_updates: u32,
    update_accept: u32,
    update_reject: u32,
    /// ... rejected for a container whose image changed, ...
    update_image_change_rejects: u32,
    /// ... one that an exemption matched under its old image;
    exemption_lost_rejects: u32,
    /// mutated on the subresource (new debug containers only).
    subresource_mutations: u32,
    /// Pod UPDATEs that respell a container's image (not checked for it),
    /// and those that move its tag or pin its digest (checked).
    respelled_updates: u32,
    retagged_updates: u32,
    /// Validate-only rejections for a path only an application profile
    /// requires, and mounts injected for one.
    profile_rejects: u32,
    profile_path_mounts: u32,
}

pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Accept { warnings } => format!("accept, warnings {warnings:?}"),
        Outcome::Reject { message, .. } => format!("reject: {message}"),
        Outcome::Mutate {
            patch, warnings, ..
        } => format!(
            "mutate, warnings {warnings:?}, patch {}",
            serde_json::to_string(patch).unwrap_or_default()
        ),
    }
}

/// A host error (I1) or a wasm/native disagreement (I10).
pub fn harness_error(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Reject { message, .. }
        if message.starts_with(HOST_ERROR) || message.starts_with(DISAGREEMENT))
}

pub fn validate_only(settings: &Value) -> Value {
    let mut s = settings.clone();
    s["mutate"] = json!(false);
    s
}

/// Checks every invariant for one case; `Err` lists the violated ones.
/// `pod_updates`: judge only the image-change property (P1, P2), so that a
/// failure shrinks to one of its own.
pub fn check_case(
    evaluator: &dyn Evaluator,
    case: &Case,
    tally: &Cell<Tally>,
    pod_updates: bool,
) -> Result<(), String> {
    let model = &case.prediction;
    let request = &case.request;
    let settings = &case.settings;
    let mut t = tally.get();
    t.cases += 1;
    let mut problems: Vec<String> = Vec::new();

    if let Err(e) = evaluator.validate_settings(settings) {
        return Err(format!("test bug: the generated settings are invalid: {e}"));
    }

    let outcome = evaluator.evaluate(request, settings);
    let validating = evaluator.evaluate(request, &validate_only(settings));
    for (mode, o) in [("mutate", &outcome), ("validate-only", &validating)] {
        if harness_error(o) {
            problems.push(format!("I1/I10 in {mode} mode: {}", describe(o)));
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }

    match &outcome {
        Outcome::Accept { .. } => t.accept += 1,
        Outcome::Mutate { .. } => t.mutate += 1,
        Outcome::Reject { .. } => t.reject += 1,
    }

    // I6: accepted in one mode <=> accepted in the other.
    let accepted = matches!(outcome, Outcome::Accept { .. });
    let accepted_validating = matches!(validating, Outcome::Accept { .. });
    if accepted && !accepted_validating {
        problems.push(format!(
            "I6 accepted in mutate mode but not in validate-only mode: {}",
            describe(&validating)
        ));
    }
    if accepted_validating && !accepted {
        problems.push(format!(
            "I6 accepted in validate-only mode, but mutate mode gave {}",
            describe(&outcome)
        ));
    }
    if let Outcome::Mutate { .. } = validating {
        problems.push("validate-only mode mutated".to_string());
    }

    // I7: Windows pods.
    let windows = model.verdict == Verdict::AcceptWindows;
    if windows {
        t.windows += 1;
        for o in [&outcome, &validating] {
            match o {
                Outcome::Accept { warnings } if warnings.iter().any(|w| w.contains("Windows")) => {}
                other => problems.push(format!(
                    "I7 a Windows pod must be accepted with a warning, got {}",
                    describe(other)
                )),
            }
        }
    }

    // I8: an explicit false on a checked container is rejected.
    let checked_false: Vec<&model::Checked> =
        model.checked.iter().filter(|c| c.explicit_false).collect();
    if !checked_false.is_empty() {
        match &outcome {
            Outcome::Reject { message, .. } => {
                t.explicit_false_rejects += 1;
                // Beyond 20 violations, a name may not be listed.
                let all_listed = header_count(message).is_some_and(|n| n <= model::MAX_LISTED);
                for c in checked_false.iter().filter(|_| all_listed) {
                    if !message.contains(&model::quote(&c.name)) {
                        problems.push(format!(
                            "I8 the rejection does not name container {:?}: {message}",
                            c.name
                        ));
                    }
                }
                // Where mutation applies, the message says why the policy did
                // not just fix it (a plain Pod UPDATE is only validated, and
                // a container whose image changed cannot be fixed).
                let mutation_applies = checked_false.iter().any(|c| c.edit != Edit::None);
                if mutation_applies
                    && all_listed
                    && !(message.contains("remove the field") && message.contains("exempt"))
                {
                    problems.push(format!(
                        "I8 the rejection does not say to remove the field or exempt the container: {message}"
                    ));
                }
            }
            other => problems.push(format!(
                "I8 containers {:?} have readOnlyRootFilesystem: false, expected a rejection, got {}",
                checked_false.iter().map(|c| &c.name).collect::<Vec<_>>(),
                describe(other)
            )),
        }
        if accepted_validating {
            problems.push("I8 validate-only mode accepted readOnlyRootFilesystem: false".into());
        }
    }

    // I11: the verdicts are the model's, with its exact violation count.
    let violations = model.violations();
    let profile_paths = (model.checked.iter().flat_map(|c| &c.unwritable))
        .any(|(_, o)| matches!(o, model::Origin::Profile(_)));
    match (&validating, violations) {
        (Outcome::Accept { .. }, 0) => {}
        (Outcome::Reject { message, .. }, n) if n > 0 => {
            t.profile_rejects += u32::from(profile_paths);
            if header_count(message) != Some(n) {
                problems.push(format!(
                    "I11 the model counts {n} violations ({:?}), the message says otherwise: {message}",
                    model.checked
                ));
            }
            // I15: each path violation names what requires the path.
            if let Err(why) = model::check_attribution(message, model) {
                problems.push(format!("I15 {why}"));
            }
        }
        (other, n) => problems.push(format!(
            "I11 the model counts {n} violations ({:?}), validate-only mode gave {}",
            model.checked,
            describe(other)
        )),
    }
    let agrees = match (&model.verdict, &outcome) {
        (Verdict::Accept | Verdict::AcceptWindows, Outcome::Accept { .. })
        | (Verdict::Reject, Outcome::Reject { .. })
        | (Verdict::Mutate, Outcome::Mutate { .. }) => true,
        (Verdict::Unknown(why), _) => {
            problems.push(format!("test bug: the model leaves the case open: {why}"));
            true
        }
        _ => false,
    };
    if !agrees {
        problems.push(format!(
            "I11 the model says {:?} with mutate: true, the policy gave {}",
            model.verdict,
            describe(&outcome)
        ));
    }

    // I12: rejection messages are bounded.
    for o in [&outcome, &validating] {
        if let Outcome::Reject { message, .. } = o
            && let Err(why) = check_message_bounds(message)
        {
            problems.push(format!("I12 {why}: {message}"));
        }
    }

    // I13: a container whose image changed on a running Pod is never fixed.
    if model
        .checked
        .iter()
        .any(|c| c.image_changed && c.violations > 0)
    {
        match &outcome {
            Outcome::Reject { message, .. } => {
                t.image_change_rejects += 1;
                let all_listed = header_count(message).is_some_and(|n| n <= model::MAX_LISTED);
                if all_listed && !message.contains("image changed") {
                    problems.push(format!(
                        "I13 the rejection does not say that the image changed: {message}"
                    ));
                }
            }
            other => problems.push(format!(
                "I13 a container whose image changed violates the policy, expected a rejection in mutate mode, got {}",
                describe(other)
            )),
        }
    }

    // I14: the warnings are the model's.
    for (mode, o) in [("mutate", &outcome), ("validate-only", &validating)] {
        let warnings = match o {
            Outcome::Accept { warnings }
            | Outcome::Mutate { warnings, .. }
            | Outcome::Reject { warnings, .. } => warnings,
        };
        if let Err(why) = model::check_warnings(warnings, model) {
            problems.push(format!("I14 in {mode} mode: {why}: {warnings:?}"));
        }
    }
    if model.warnings > 0 && !windows {
        t.warned += 1;
    }

    // I9: requests that are never mutated (Windows, a plain Pod UPDATE, an
    // unchanged template: no container that mutation may edit).
    if case.kind != "Pod" && case.op == Op::UpdateB && !accepted {
        problems.push(format!(
            "I9 a workload UPDATE with an unchanged template must be accepted, got {}",
            describe(&outcome)
        ));
    }
    if let Outcome::Mutate { object, patch, .. } = &outcome {
        if model.checked.iter().all(|c| c.edit == Edit::None) {
            problems.push(format!(
                "I7/I9 this request must never be mutated ({} {:?}, windows: {windows})",
                case.kind, case.op
            ));
        }
        if patch.is_empty() {
            problems.push("a mutation with an empty patch".into());
        }
        // I2-I5, the fixture table's mutation checks.
        problems.extend(
            check_mutation_invariants(request, object, patch, settings, evaluator)
                .into_iter()
                .map(|p| format!("I2-I5 {p}")),
        );
        // I9: only the edits the spec lists.
        let pointer = case.spec_pointer;
        if let (Some(old), Some(new)) =
            (request["object"].pointer(pointer), object.pointer(pointer))
        {
            let edits = model::check_edits(old, new, model, Some(&case.injected_empty_dir));
            problems.extend(edits.problems);
            if edits.volumes > 0 {
                t.mutations_adding_volumes += 1;
                t.injected_volumes += edits.volumes as u32;
            }
            for m in &edits.mounts {
                if injected_volume_name(&m.container, &m.path, &HashSet::new()) != m.volume {
                    t.renamed_volumes += 1;
                }
                let path = model::normalise(&m.path);
                if !case
                    .global_paths
                    .iter()
                    .any(|p| model::normalise(p) == path)
                {
                    t.rule_path_mounts += 1;
                }
                let origin = model
                    .checked
                    .iter()
                    .filter(|c| c.list == m.list && c.name == m.container)
                    .flat_map(|c| &c.unwritable)
                    .find(|(p, _)| p == path)
                    .map(|(_, origin)| *origin);
                if matches!(origin, Some(model::Origin::Profile(_))) {
                    t.profile_path_mounts += 1;
                }
            }
        }
    }

    // P1/P2: a Pod UPDATE checks what a CREATE of each container it changes
    // would, alone in the pod.
    if pod_updates {
        problems.clear();
    }
    if case.kind == "Pod" && case.op != Op::Create {
        t.pod_updates += 1;
        t.respelled_updates += u32::from(case.respelled > 0);
        t.retagged_updates += u32::from(case.retagged > 0);
        check_image_changes(
            evaluator,
            case,
            &outcome,
            &validating,
            &mut t,
            &mut problems,
        );
    }

    tally.set(t);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  verdict (mutate mode): {}\n  verdict (validate-only): {}",
            problems.join("\n"),
            describe(&outcome),
            describe(&validating)
        ))
    }
}

/// Runs `cases` generated cases (`pod_updates`: only Pod UPDATEs, for the
/// image-change property); `Ok` is the summary line, `Err` the minimal
/// failing input (shrunk) with the violated invariants.
pub fn run_properties(
    label: &str,
    evaluator: &dyn Evaluator,
    cases: u32,
    pod_updates: bool,
) -> Result<String, String> {
    let tally = Cell::new(Tally::default());
    let counted = || tally.get().cases;
    let config = Config {
        cases,
        failure_persistence: None,
        // Shrinking stops after two minutes even if it could go on.
        max_shrink_time: 120_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let first_failure = Cell::new(None);
    let start = Instant::now();
    let result = runner.run(&case_strategy(pod_updates), |case| {
        check_case(evaluator, &case, &tally, pod_updates).map_err(|why| {
            if first_failure.get().is_none() {
                first_failure.set(Some(counted()));
            }
            TestCaseError::fail(why)
        })
    });
    let elapsed = start.elapsed();
    match result {
        Ok(()) if counted() == cases => {}
        Ok(()) => return Err(format!("{label}: ran {} cases, not {cases}", counted())),
        Err(TestError::Fail(reason, case)) => {
            let found = first_failure.get().unwrap_or(counted());
            let mut out = String::new();
            let _ = writeln!(
                out,
                "{label}: a property failed at case {found} and was shrunk in {} more \
                 evaluations ({elapsed:.2?} in all); minimal failing input:",
                counted() - found,
            );
            let _ = writeln!(out, "{case:?}");
            let _ = writeln!(out, "violated:\n{reason}");
            return Err(out);
        }
        Err(TestError::Abort(reason)) => {
            return Err(format!("{label}: proptest aborted: {reason}"));
        }
    }

    let t = tally.get();
    if pod_updates {
        let lost = "rejections of a container an exemption matched under its old image";
        check_coverage(
            label,
            t.cases,
            &[
                (200, 0.05, "accepted", t.update_accept),
                (200, 0.05, "rejected", t.update_reject),
                (
                    200,
                    0.05,
                    "changed-image rejections",
                    t.update_image_change_rejects,
                ),
                (500, 0.005, lost, t.exemption_lost_rejects),
                (200, 0.1, "respelled images", t.respelled_updates),
                (200, 0.05, "retagged or pinned images", t.retagged_updates),
            ],
        )?;
        return Ok(format!(
            "{label}: {} Pod UPDATEs passed the image-change property in {elapsed:.2?}: {} \
             accepted, {} rejected ({} for a changed image, {} of them for one an exemption \
             matched under its old image); {} mutated on the subresource; {} respelled an \
             image, {} moved a tag or pinned a digest",
            t.cases,
            t.update_accept,
            t.update_reject,
            t.update_image_change_rejects,
            t.exemption_lost_rejects,
            t.subresource_mutations,
            t.respelled_updates,
            t.retagged_updates,
        ));
    }
    // The generator must keep producing each kind of verdict.
    check_coverage(
        label,
        t.cases,
        &[
            (200, 0.03, "accepted", t.accept),
            (200, 0.03, "mutated", t.mutate),
            (200, 0.03, "rejected", t.reject),
            (
                200,
                0.03,
                "mutated with volumes",
                t.mutations_adding_volumes,
            ),
            (
                1000,
                0.01,
                "rejections for a changed image",
                t.image_change_rejects,
            ),
            (
                1000,
                0.01,
                "mounts injected for a rule's path",
                t.rule_path_mounts,
            ),
            (1000, 0.01, "cases with warnings", t.warned),
            (
                1000,
                0.01,
                "rejections for a path only a profile requires",
                t.profile_rejects,
            ),
            (
                1000,
                0.005,
                "mounts injected for a profile's path",
                t.profile_path_mounts,
            ),
        ],
    )?;
    Ok(format!(
        "{label}: {} cases passed in {:.2?}: {} accepted, {} mutated, {} rejected \
         ({} Windows pods, {} explicit-false rejections, {} for a changed image); \
         {} mutations added {} volumes, {} of them not under their first-choice \
         name, {} for a path only a rule or profile requires ({} a profile); {} \
         validate-only rejections for a profile's path; {} cases with warnings; {} Pod \
         UPDATEs also passed the image-change property ({} respelled an image, {} moved \
         a tag or pinned a digest)",
        t.cases,
        elapsed,
        t.accept,
        t.mutate,
        t.reject,
        t.windows,
        t.explicit_false_rejects,
        t.image_change_rejects,
        t.mutations_adding_volumes,
        t.injected_volumes,
        t.renamed_volumes,
        t.rule_path_mounts,
        t.profile_path_mounts,
        t.profile_rejects,
        t.warned,
        t.pod_updates,
        t.respelled_updates,
        t.retagged_updates,
    ))
}

/// Fails when a count of `counts` (`(min_cases, min_share, what, count)`)
/// is under its `min_share` of `cases`. Runs of fewer than its `min_cases`
/// (mutant hunts, quick local runs, and for rare events the wasm runs) are
/// not judged: the thresholds sit far enough below the generator's rates
/// that a judged run does not fail by chance.
pub fn check_coverage(
    label: &str,
    cases: u32,
    counts: &[(u32, f64, &str, u32)],
) -> Result<(), String> {
    for (min_cases, min_share, what, n) in counts {
        if cases >= *min_cases && f64::from(*n) / f64::from(cases) < *min_share {
            return Err(format!(
                "{label}: only {n} {what} in {cases} cases: the generator lost its coverage"
            ));
        }
    }
    Ok(())
}

/// Runs `cases` generated cases; `Ok` is the summary line, `Err` the
/// minimal failing input with the violated invariants.
/// The image-change property (P1, P2) of a Pod UPDATE, given its verdicts
/// with `mutate: true` (`mutating`) and without (`update`).
fn check_image_changes(
    evaluator: &dyn Evaluator,
    case: &Case,
    mutating: &Outcome,
    update: &Outcome,
    t: &mut Tally,
    problems: &mut Vec<String>,
) {
    let settings = validate_only(&case.settings);
    let creates: Vec<Outcome> = case
        .alone
        .iter()
        .map(|a| evaluator.evaluate(&a.create, &settings))
        .collect();
    if let Some(o) = creates.iter().find(|o| harness_error(o)) {
        return problems.push(format!("I1/I10 on CREATE alone: {}", describe(o)));
    }
    let rejected_alone: Vec<(&Alone, usize)> = case
        .alone
        .iter()
        .zip(&creates)
        .filter_map(|(a, o)| match o {
            Outcome::Reject { message, .. } => Some((a, header_count(message).unwrap_or(0))),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = rejected_alone.iter().map(|(a, _)| a.name).collect();
    let image_changed = rejected_alone.iter().any(|(a, _)| a.image_changed);
    // P1: rejected exactly when a checked container would be on CREATE,
    // with the sum of their violations.
    match (update, rejected_alone.is_empty()) {
        (Outcome::Accept { .. }, true) => t.update_accept += 1,
        (Outcome::Reject { message, .. }, false) => {
            t.update_reject += 1;
            t.update_image_change_rejects += u32::from(image_changed);
            t.exemption_lost_rejects +=
                u32::from(rejected_alone.iter().any(|(a, _)| a.exemption_lost));
            let sum: usize = rejected_alone.iter().map(|(_, n)| n).sum();
            if header_count(message) != Some(sum) {
                problems.push(format!(
                    "P1 the containers {names:?} have {sum} violations on CREATE, the UPDATE's message says otherwise: {message}"
                ));
            }
        }
        (other, _) => problems.push(format!(
            "P1 on CREATE, the checked containers {:?} are rejected: {names:?}; the UPDATE gave {}",
            case.alone.iter().map(|a| a.name).collect::<Vec<_>>(),
            describe(other)
        )),
    }
    // P2: with mutate: true, a plain UPDATE is only validated, and a
    // container whose image changed is never edited.
    if case.op == Op::UpdateA {
        if mutating != update {
            problems.push(format!(
                "P2 a plain Pod UPDATE gives {} with mutate: true, {} without",
                describe(mutating),
                describe(update)
            ));
        }
        return;
    }
    if image_changed && !matches!(mutating, Outcome::Reject { .. }) {
        problems.push(format!(
            "P2 a container whose image changed violates the policy, but mutate mode gave {}",
            describe(mutating)
        ));
    }
    if let Outcome::Mutate { patch, .. } = mutating {
        t.subresource_mutations += 1;
        for op in patch {
            let path = op["path"].as_str().unwrap_or("?");
            let new_debug_container = path
                .strip_prefix("/spec/ephemeralContainers/")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(index, rest)| {
                    index.parse().is_ok_and(|i: usize| i >= case.old_ephemeral)
                        && rest.starts_with("securityContext")
                });
            if !new_debug_container {
                problems.push(format!(
                    "P2 on the subresource the patch edits {path}; only new debug containers' securityContext may change"
                ));
            }
        }
    }
}
