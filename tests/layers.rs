//! Issue 36: dependencies point one way. The modules of `src/` stand in
//! layers, lowest first; a module may name (`crate::x`) only modules of
//! its own layer or below. This list is the one declaration of the order;
//! the README's Layout points here. A file's test module (`#[cfg(test)]`,
//! at its end) may use the harness to check a transport, as a
//! dev-dependency would: it is not part of what is built.

const LAYERS: &[&[&str]] = &[
    // The contract other people's tools read: plain data, which names
    // nothing that measures.
    &["results"],
    // The few system calls, wrapped once.
    &["sys"],
    // What the machine is, read where it is measured; what a person sees
    // and the folders written for them.
    &["topology", "timer", "output"],
    // What moves bytes, and the machine's physical limits.
    &["transport", "floors"],
    // What separates a peer from the harness.
    &["isolation"],
    // Spawn, handshake, timing, verification, cleanup.
    &["harness"],
    // Experiments and checks built on the harness.
    &["probe", "doctor"],
    // Commands and their words: what a person runs and reads.
    &[
        "suite", "list", "compare", "export", "report", "gallery", "options", "error", "cli",
    ],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The modules of the crate a file names, as `crate::module`.
fn named(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn no_module_names_one_above_it() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.iter().next().unwrap().to_string_lossy();
        let module = first.trim_end_matches(".rs");
        if matches!(module, "lib" | "main") {
            continue;
        }
        let own = layer_of(module).unwrap_or_else(|| panic!("{module} is in no layer: add it"));
        let text = std::fs::read_to_string(&file).unwrap();
        let built = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        for used in named(built) {
            // `crate::say!` and the like are macros at the crate's root.
            let Some(theirs) = layer_of(&used) else {
                continue;
            };
            if theirs > own {
                upward.push(format!("{} names crate::{used}", relative.display()));
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "imports that go up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_contract_depends_on_no_cli_crate() {
    let results = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/results");
    let mut files = Vec::new();
    sources(&results, &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("clap"), "{} uses clap", file.display());
    }
}
