//! Placement classes resolved on fixture topologies (one captured here,
//! three reconstructed from the vendors' documented layouts: see each
//! file's header), and on this machine end to end.

mod common;
use common::*;

use ipcbench::results::Placement;
use ipcbench::topology::{NoPair, Source, Topology};

fn fixture(name: &str) -> Topology {
    let path = format!(
        "{}/tests/fixtures/topology/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    Topology::read(&Source::capture(&text)).unwrap()
}

use ipcbench::topology::CLASSES;

/// The pair each class resolves to with every CPU allowed, or a word of
/// the reason it cannot.
fn assert_pairs(name: &str, expected: [Result<(usize, usize), &str>; 6]) {
    let t = fixture(name);
    let all: Vec<usize> = t.cpus.iter().map(|c| c.id).collect();
    for (class, want) in CLASSES.into_iter().zip(expected) {
        let got = t.pair(class, &all);
        match want {
            Ok(pair) => assert_eq!(got, Ok(pair), "{name} {class}"),
            Err(sign) => {
                let why = got.expect_err(&format!("{name} {class}: a pair where none should be"));
                assert!(why.to_string().contains(sign), "{name} {class}: {why}");
            }
        }
    }
}

#[test]
fn a_two_vcpu_virtual_machine_has_one_cache_and_no_smt() {
    assert_pairs(
        "kvm-2vcpu",
        [
            Err("no SMT: every core has one thread"),
            Ok((0, 1)),
            Err("one last-level cache"),
            Err("one NUMA node"),
            Err("no hybrid cores"),
            Err("no hybrid cores"),
        ],
    );
}

#[test]
fn a_two_socket_xeon_pairs_siblings_cores_and_sockets() {
    assert_pairs(
        "xeon-2s-smt",
        [
            Ok((0, 40)),
            Ok((0, 1)),
            Err("one last-level cache"),
            Ok((0, 20)),
            Err("no hybrid cores"),
            Err("no hybrid cores"),
        ],
    );
}

#[test]
fn an_epyc_with_eight_ccds_pairs_across_them() {
    assert_pairs(
        "epyc-7543-ccds",
        [
            Ok((0, 32)),
            Ok((0, 1)),
            Ok((0, 4)),
            Err("one NUMA node"),
            Err("no hybrid cores"),
            Err("no hybrid cores"),
        ],
    );
}

#[test]
fn a_hybrid_laptop_pairs_performance_and_efficiency_cores() {
    assert_pairs(
        "i7-1260p-hybrid",
        [
            Ok((0, 1)),
            Ok((0, 2)),
            Err("one last-level cache"),
            Err("one NUMA node"),
            Ok((0, 2)),
            Ok((8, 9)),
        ],
    );
}

#[test]
fn an_affinity_mask_narrows_the_choice_and_says_so() {
    let t = fixture("xeon-2s-smt");
    // Socket 1's CPUs only: its first core and that core's sibling.
    let socket1: Vec<usize> = (20..40).chain(60..80).collect();
    assert_eq!(t.pair(Placement::Smt, &socket1), Ok((20, 60)));
    assert_eq!(t.pair(Placement::Llc, &socket1), Ok((20, 21)));
    let why = t.pair(Placement::CrossNode, &socket1).unwrap_err();
    assert!(
        matches!(why, NoPair::MaskLeavesOut { ref allowed, .. } if *allowed == socket1),
        "{why}"
    );
    assert!(
        why.to_string().contains("no two of the allowed CPUs"),
        "{why}"
    );
    // Two siblings alone share a core: no pair of two cores.
    assert!(t.pair(Placement::Llc, &[0, 40]).is_err());
}

#[test]
fn classes_resolve_to_rows_here_or_say_why_not() {
    let here = Topology::this_machine().unwrap();
    let allowed = ipcbench::sys::affinity::allowed_cpus();
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "pipe",
        "--sizes",
        "64",
        "--patterns",
        "latency",
        "-n",
        "200",
        "--pin",
        "smt,llc,cross-llc,cross-node,p-core,e-core",
        "--out",
        out.to_str().unwrap(),
    ]);
    // A class this machine lacks is a result, not an error.
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = sb.result();
    let rows = rows(&r);
    assert_eq!(rows.len(), CLASSES.len());
    for (row, class) in rows.iter().zip(CLASSES) {
        assert_eq!(row["placement"], class.to_string(), "{row}");
        match here.pair(class, &allowed) {
            Ok((a, b)) => {
                assert_eq!(row["status"], "ok", "{row}");
                assert_eq!(row["cpus"], serde_json::json!([a, b]), "{row}");
            }
            Err(why) => {
                assert_eq!(row["status"], "unsupported", "{row}");
                assert_eq!(row["reason"], why.to_string(), "{row}");
            }
        }
    }
}

#[test]
fn the_machine_line_names_packages_nodes_caches_threads_and_core_types() {
    let line = |name: &str| fixture(name).summary().line();
    assert_eq!(
        line("kvm-2vcpu"),
        "1 package, 1 NUMA node, last-level caches [0-1], no SMT"
    );
    assert_eq!(
        line("xeon-2s-smt"),
        "2 packages, 2 NUMA nodes, last-level caches [0-19,40-59] [20-39,60-79], SMT: 40 cores with 2 threads"
    );
    assert!(line("epyc-7543-ccds").contains("last-level caches [0-3,32-35] [4-7,36-39]"));
    assert!(line("i7-1260p-hybrid")
        .ends_with("SMT: 4 cores with 2 threads, P-cores [0-7], E-cores [8-15]"));
}

#[test]
fn memory_bound_to_a_node_is_found_there_and_bad_nodes_are_refused() {
    let node = ipcbench::sys::numa::nodes_with_memory()[0];
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "shm-ring,shm-loan,pipe",
        "--sizes",
        "64KiB",
        "--patterns",
        "latency",
        "--pin",
        "cross",
        "-n",
        "200",
        "--memory-node",
        &node.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = sb.result();
    assert_eq!(r["options"]["memory_node"], node);
    for row in rows(&r) {
        if row["mechanism"] == "pipe" {
            assert_eq!(row["status"], "unsupported", "{row}");
            assert!(row["reason"]
                .as_str()
                .unwrap()
                .contains("no shared mapping"));
        } else {
            assert_eq!(row["status"], "ok", "{row}");
            assert_eq!(row["memory_nodes"], serde_json::json!([node]), "{row}");
            assert!(row["note"].as_str().unwrap().contains("as asked"), "{row}");
        }
    }
    // A node without memory here, and a run with nothing to place.
    let o = sb.run(&["run", "-m", "shm-ring", "--memory-node", "4096"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("invalid --memory-node 4096"), "{err}");
    let o = sb.run(&["run", "-m", "pipe", "--memory-node", &node.to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no chosen transport has any"));
}

#[test]
fn a_sweep_takes_every_pair_of_a_few_cpus_and_samples_many() {
    let all = |t: &Topology| t.cpus.iter().map(|c| c.id).collect::<Vec<usize>>();
    let vm = fixture("kvm-2vcpu");
    assert_eq!(
        vm.sweep(&all(&vm)),
        (vec![(0, 0), (0, 1), (1, 0), (1, 1)], false)
    );
    // Above eight CPUs: the first against each, and every class's pair.
    for name in ["xeon-2s-smt", "epyc-7543-ccds", "i7-1260p-hybrid"] {
        let t = fixture(name);
        let cpus = all(&t);
        let (pairs, sampled) = t.sweep(&cpus);
        assert!(sampled, "{name}");
        assert!(
            cpus.iter().all(|&b| pairs.contains(&(cpus[0], b))),
            "{name}"
        );
        for class in CLASSES {
            if let Ok(pair) = t.pair(class, &cpus) {
                assert!(pairs.contains(&pair), "{name}: {class} {pair:?}");
            }
        }
    }
    let hybrid = fixture("i7-1260p-hybrid");
    assert_eq!(
        hybrid.sweep(&all(&hybrid)).0.len(),
        17,
        "the row of CPU 0, and the E-core pair 8-9"
    );
}

#[test]
fn pairs_all_measures_every_pair_and_draws_a_heatmap_per_transport() {
    let allowed = ipcbench::sys::affinity::allowed_cpus();
    let (pairs, _) = Topology::this_machine().unwrap().sweep(&allowed);
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "pipe,shm-ring",
        "--pairs",
        "all",
        "--patterns",
        "latency",
        "--sizes",
        "64",
        "-n",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("pairs of CPUs"));
    let r = sb.result();
    let rows = rows(&r);
    assert_eq!(rows.len(), 2 * pairs.len());
    for (row, &(a, b)) in rows.iter().zip(pairs.iter().cycle()) {
        assert_eq!(row["placement"], "pair", "{row}");
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["cpus"], serde_json::json!([a, b]), "{row}");
        assert_eq!(errors(row), (0, 0, 0, 0), "{row}");
    }
    let report = out.with_extension("");
    for m in ["pipe", "shm-ring"] {
        for ext in ["png", "svg"] {
            assert!(
                report.join(format!("pairs-{m}-64.{ext}")).exists(),
                "{m} {ext}"
            );
        }
    }
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(page.contains("id=\"pairs\"") && page.contains("title=\"p99 "));
    let csv = sb.run(&["export", "--format", "csv", out.to_str().unwrap()]);
    let lines = String::from_utf8_lossy(&csv.stdout).lines().count();
    assert_eq!(
        lines,
        1 + rows.len(),
        "a header and a line per pair per transport"
    );
    // --pairs replaces --pin.
    let o = sb.run(&["run", "-m", "pipe", "--pairs", "all", "--pin", "same"]);
    assert_eq!(o.status.code(), Some(2));
}
