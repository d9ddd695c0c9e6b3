//! The CI that users copy stays true: the workflow names only commands and
//! options ipcbench has, and the committed baseline was made with the
//! options the regression script runs.

use ipcbench::cli::{Cli, Command};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The quick suite's options, as `scripts/ci-regression.sh` gives them.
fn script_options() -> Vec<String> {
    let script = read("scripts/ci-regression.sh");
    let line = script
        .lines()
        .find(|l| l.contains("ipcbench run "))
        .expect("the script runs ipcbench run");
    let words: Vec<&str> = line.split_whitespace().collect();
    let from = words.iter().position(|w| *w == "run").unwrap() + 1;
    let to = words.iter().position(|w| *w == "--out").unwrap();
    words[from..to].iter().map(|w| w.to_string()).collect()
}

fn workflow() -> yaml_rust2::Yaml {
    let text = read(".github/workflows/benchmark.yml");
    let mut docs = yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("the workflow is not YAML: {e}"));
    docs.remove(0)
}

/// A job's steps; each runs a command or uses an action.
fn steps<'a>(doc: &'a yaml_rust2::Yaml, job: &str) -> &'a [yaml_rust2::Yaml] {
    let steps = doc["jobs"][job]["steps"]
        .as_vec()
        .unwrap_or_else(|| panic!("the workflow has no job '{job}' with steps"));
    for step in steps {
        assert!(
            step["run"].as_str().is_some() != step["uses"].as_str().is_some(),
            "a step runs a command or uses an action: {step:?}"
        );
    }
    steps
}

/// Every `ipcbench <command> <options>` of the workflow's jobs, with its
/// environment variables expanded; the file must be YAML of a workflow.
fn workflow_commands() -> Vec<Vec<String>> {
    let doc = workflow();
    let quick = doc["env"]["QUICK"]
        .as_str()
        .expect("the workflow sets QUICK");
    let mut out = Vec::new();
    for job in ["benchmark", "gallery"] {
        for run in steps(&doc, job).iter().filter_map(|s| s["run"].as_str()) {
            for line in run.lines() {
                let line = line.replace("$QUICK", quick);
                let Some((_, rest)) = line.split_once("target/release/ipcbench ") else {
                    continue;
                };
                let words: Vec<String> = rest
                    .split_whitespace()
                    .take_while(|w| !["|", "||", ">", "2>&1"].contains(w))
                    .map(String::from)
                    .collect();
                out.push(words);
            }
        }
    }
    out
}

/// The fleet: the suite runs on an x86-64 and an arm64 runner, each keeps
/// its result file apart, and a last job makes the gallery from them all.
#[test]
fn the_workflow_runs_a_fleet_and_builds_its_gallery() {
    let doc = workflow();
    let job = &doc["jobs"]["benchmark"];
    let runners: Vec<&str> = job["strategy"]["matrix"]["runner"]
        .as_vec()
        .expect("the benchmark job has a matrix of runners")
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        runners.contains(&"ubuntu-latest"),
        "no x86-64 runner: {runners:?}"
    );
    assert!(
        runners.iter().any(|r| r.ends_with("-arm")),
        "no arm64 runner: {runners:?}"
    );
    assert_eq!(job["runs-on"].as_str(), Some("${{ matrix.runner }}"));
    assert_eq!(job["strategy"]["fail-fast"].as_bool(), Some(false));
    let kept: Vec<&str> = using(&doc, "benchmark", "actions/upload-artifact")
        .iter()
        .filter_map(|s| s["with"]["name"].as_str())
        .collect();
    assert!(
        kept.iter().any(|n| n.contains("${{ matrix.runner }}")),
        "each runner's artifact needs a name of its own: {kept:?}"
    );
    assert_eq!(doc["jobs"]["gallery"]["needs"].as_str(), Some("benchmark"));
    let fetched = using(&doc, "gallery", "actions/download-artifact");
    let folder = fetched
        .first()
        .and_then(|s| s["with"]["path"].as_str())
        .expect("the gallery job downloads the runners' artifacts into a folder");
    let built = workflow_commands()
        .into_iter()
        .find(|w| w[0] == "gallery")
        .expect("the gallery job runs ipcbench gallery");
    assert!(
        built.iter().any(|w| w.starts_with(&format!("{folder}/"))),
        "the gallery reads the downloaded folder: {built:?}"
    );
    let out = &built[built.iter().position(|w| w == "--out").unwrap() + 1];
    let uploaded = using(&doc, "gallery", "actions/upload-artifact")
        .iter()
        .any(|s| {
            s["with"]["path"]
                .as_str()
                .is_some_and(|p| p.trim_end_matches('/') == out)
        });
    assert!(uploaded, "the gallery job uploads {out}");
}

/// The steps of `job` that use `action` (any version).
fn using<'a>(doc: &'a yaml_rust2::Yaml, job: &str, action: &str) -> Vec<&'a yaml_rust2::Yaml> {
    steps(doc, job)
        .iter()
        .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
        .collect()
}

#[test]
fn the_workflow_names_only_what_ipcbench_has() {
    let commands = workflow_commands();
    assert!(
        commands.len() >= 6,
        "only {} ipcbench commands",
        commands.len()
    );
    let mut seen = std::collections::BTreeSet::new();
    for words in &commands {
        let mut argv = vec!["ipcbench".to_string()];
        argv.extend(words.iter().cloned());
        // Parsing is what ipcbench itself does with these words: an unknown
        // command, option or value fails here as it would in CI.
        if let Err(e) = <Cli as clap::Parser>::try_parse_from(&argv) {
            panic!(
                "the workflow runs `{}`, which ipcbench refuses:\n{e}",
                argv.join(" ")
            );
        }
        seen.insert(words[0].clone());
    }
    for needed in ["run", "compare", "export", "report", "doctor", "gallery"] {
        assert!(
            seen.contains(needed),
            "the workflow never runs `ipcbench {needed}`"
        );
    }
    for format in ["bmf", "github-action-benchmark"] {
        assert!(
            commands.iter().any(|w| w.contains(&format.to_string())),
            "the workflow does not export {format}"
        );
    }
}

#[test]
fn the_workflow_and_the_script_run_the_same_quick_suite() {
    let script = script_options().join(" ");
    let run = workflow_commands()
        .into_iter()
        .find(|w| w[0] == "run")
        .expect("the workflow runs the suite");
    let to = run.iter().position(|w| w == "--out").unwrap();
    assert_eq!(run[1..to].join(" "), script);
}

#[test]
fn the_baseline_was_made_with_the_scripts_options() {
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("current.json");
    let mut argv = vec!["ipcbench".to_string(), "run".to_string()];
    argv.extend(script_options());
    argv.extend(["--out".to_string(), out.to_str().unwrap().to_string()]);
    let cli = <Cli as clap::Parser>::try_parse_from(&argv).unwrap();
    let Some(Command::Run(args)) = cli.command else {
        panic!("not a run: {argv:?}");
    };
    let plan = ipcbench::suite::Plan::from_args(&args).unwrap();
    let expected = serde_json::to_value(plan.record()).unwrap();
    let baseline: serde_json::Value = serde_json::from_str(&read("results/baseline.json")).unwrap();
    assert_eq!(
        baseline["options"], expected,
        "results/baseline.json was not made with scripts/ci-regression.sh's options: regenerate it (README, Regression tracking)"
    );
}
