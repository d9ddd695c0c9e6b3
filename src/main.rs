use std::process::ExitCode;

use clap::Parser;

use ipcbench::cli::{
    Cli, Command, CompareArgs, DoctorArgs, ExportArgs, GalleryArgs, ProbeArgs, ReportArgs, RunArgs,
};
use ipcbench::error::Error;
use ipcbench::{export, harness, list, options, output, say, suite, tell};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_error(e),
    };
    let code = match cli.command {
        Some(Command::Peer(args)) => harness::peer::main(&args),
        Some(Command::List) => {
            output::out(&list::render());
            0
        }
        Some(Command::Run(args)) => run(&args),
        Some(Command::Probe(args)) => probe(&args),
        Some(Command::Report(args)) => report(&args),
        Some(Command::Doctor(args)) => doctor(&args),
        Some(Command::Compare(args)) => compare(&args),
        Some(Command::Gallery(args)) => gallery(&args),
        Some(Command::Export(args)) => export_result(&args),
        Some(Command::Completions { shell }) => {
            let mut cli = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cli, "ipcbench", &mut std::io::stdout());
            0
        }
        Some(Command::ProbePeer(args)) => ipcbench::probe::helper::main(&args),
        Some(Command::Janitor) => harness::janitor::serve(),
        Some(Command::Pinned { cpu, command }) => harness::peer::exec_pinned(cpu, &command),
        Some(Command::Isolate { boundary, command }) => {
            ipcbench::isolation::launcher(&boundary, &command)
        }
        None => match Cli::try_parse_from(["ipcbench", "run"]) {
            Ok(Cli {
                command: Some(Command::Run(args)),
            }) => run(&args),
            _ => unreachable!("`run` with no options always parses"),
        },
    };
    ExitCode::from(code as u8)
}

fn run(args: &RunArgs) -> i32 {
    let outcome = suite::Plan::from_args(args).and_then(|plan| {
        let (result, clean, saved) = suite::run(&plan)?;
        if let Err(e) = saved {
            say!("{}", export::markdown::report(&result));
            return Err(e);
        }
        // Files before words: what reaches the terminal must not decide
        // what reaches the disk. An interrupted run stops at once; its
        // partial results can still be reported later.
        let report = result.complete.then(|| {
            let (result, source) = (result.clone(), plan.out.clone());
            abandonable(move || {
                let dir = options::report_dir(&source);
                ipcbench::report::write(&result, &source, &dir, None).map_err(Error::runtime)
            })
        });
        say!("{}", export::markdown::report(&result));
        say!("results written to {}", plan.out.display());
        let reported = match report {
            None => {
                say!(
                    "no report for an interrupted run: ipcbench report {}",
                    plan.out.display()
                );
                true
            }
            Some(Ok(index)) => {
                say!("report written to {}", index.display());
                true
            }
            // Ctrl-C while the report was drawn: the results are whole.
            Some(Err(_)) if ipcbench::sys::interrupt::interrupted() => {
                tell!(
                    "ipcbench: interrupted; the results were written, the report was not: ipcbench report {}",
                    plan.out.display()
                );
                return Ok(130);
            }
            Some(Err(e)) => {
                tell!("ipcbench: the report could not be written: {e}");
                false
            }
        };
        Ok(match (result.complete, clean && reported) {
            (_, true) => 0,
            (false, _) => {
                tell!("ipcbench: interrupted; partial results were written");
                130
            }
            (true, false) => 1,
        })
    });
    match outcome {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn report(args: &ReportArgs) -> i32 {
    // Ctrl-C then abandons the half-made report instead of leaving it,
    // from the start: reading a large file takes a moment too.
    if let Err(e) = ipcbench::sys::interrupt::install() {
        return fail(&Error::Runtime(format!("installing signal handlers: {e}")));
    }
    let args = args.clone();
    match abandonable(move || write_report(&args)) {
        Ok(index) => {
            say!("report written to {}", index.display());
            0
        }
        Err(e) => fail(&e),
    }
}

fn write_report(args: &ReportArgs) -> Result<std::path::PathBuf, Error> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| options::report_dir(&args.result));
    options::check_output_dir(&out)?;
    let inputs: Vec<&std::path::Path> = std::iter::once(&args.result)
        .chain(&args.compare)
        .map(|p| p.as_path())
        .collect();
    options::check_apart(&out, &inputs)?;
    let read = |p: &std::path::Path| ipcbench::results::file::read(p).map_err(Error::usage);
    let result = read(&args.result)?;
    let baseline = match &args.compare {
        Some(p) => Some((read(p)?, p.as_path())),
        None => None,
    };
    let compare = baseline.as_ref().map(|(r, p)| (r, *p));
    ipcbench::report::write(&result, &args.result, &out, compare).map_err(Error::runtime)
}

/// `work` on a thread of its own that Ctrl-C abandons within a second,
/// whatever it is doing, leaving no half-made folder.
fn abandonable<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let interrupted = ipcbench::sys::interrupt::interrupted;
    match output::unless_interrupted(work) {
        Ok(Err(_)) if interrupted() => Err(Error::Interrupted),
        Ok(done) => done,
        Err(output::Abandoned::Interrupted) => Err(Error::Interrupted),
        Err(output::Abandoned::Lost) => Err(Error::Runtime(
            "the thread doing the work could not start or failed".into(),
        )),
    }
}

/// The site from every readable file; each file left out is named on
/// stderr with why, and only a gallery of none fails (exit 2).
fn gallery(args: &GalleryArgs) -> i32 {
    if let Err(e) = ipcbench::sys::interrupt::install() {
        return fail(&Error::Runtime(format!("installing signal handlers: {e}")));
    }
    let args = args.clone();
    let outcome = abandonable(move || {
        options::check_output_dir(&args.out)?;
        let inputs: Vec<&std::path::Path> = args.inputs.iter().map(|p| p.as_path()).collect();
        options::check_apart(&args.out, &inputs)?;
        let gallery = ipcbench::gallery::gather(&args.inputs).map_err(Error::Usage)?;
        for why in &gallery.refused {
            output::warn(&format!("left out: {why}"));
        }
        ipcbench::gallery::write(&gallery, &args.out).map_err(Error::runtime)
    });
    match outcome {
        Ok(index) => {
            say!("gallery written to {}", index.display());
            0
        }
        Err(e) => fail(&e),
    }
}

fn compare(args: &CompareArgs) -> i32 {
    let read = |p: &std::path::Path| ipcbench::results::file::read(p).map_err(Error::usage);
    let (baseline, current) = match read(&args.baseline).and_then(|b| Ok((b, read(&args.current)?)))
    {
        Ok(pair) => pair,
        Err(e) => return fail(&e),
    };
    if let Some(w) = ipcbench::compare::machine_warning(&baseline, &current) {
        tell!("warning: {w}");
    }
    let changes = ipcbench::compare::compare(&baseline, &current, args.max_regression, args.by);
    output::out(&ipcbench::compare::table(&changes));
    for (name, only) in ipcbench::compare::one_sided(&baseline, &current) {
        if !only.is_empty() {
            output::out(&format!(
                "\nMeasured only in the {name} ({} cases, not compared):\n",
                only.len()
            ));
            for o in only {
                output::out(&format!("- {}: the other run: {}\n", o.case, o.other));
            }
        }
    }
    let regressions = changes
        .iter()
        .filter(|c| c.verdict == ipcbench::compare::Verdict::Regression)
        .count();
    say!(
        "\n{} cases compared, {regressions} regressed beyond {:.0}% (normalised by the same run's reference, trial ranges apart)",
        changes.len(),
        args.max_regression * 100.0
    );
    let failures = ipcbench::compare::gate_failures(&baseline, &current, args.allow_missing);
    for why in &failures {
        say!("FAIL: {why}");
    }
    i32::from(regressions > 0 || !failures.is_empty())
}

fn export_result(args: &ExportArgs) -> i32 {
    let exporter = export::exporter(args.format);
    let outcome = (|| -> Result<(), Error> {
        match (&args.out, exporter.writes_a_folder()) {
            (Some(dir), true) => options::check_output_dir(dir)?,
            (Some(p), false) => drop(options::check_output_path(p)?),
            (None, true) => {
                return Err(Error::Usage(format!(
                    "--format {} writes several files: give --out DIR",
                    clap::ValueEnum::to_possible_value(&args.format)
                        .map_or(String::new(), |v| v.get_name().to_string())
                )))
            }
            (None, false) => {}
        }
        let result = ipcbench::results::file::read(&args.result).map_err(Error::usage)?;
        let write = |path: &std::path::Path, text: &str| {
            ipcbench::results::file::write_atomically(path, text.as_bytes())
                .map_err(|e| Error::Runtime(format!("writing '{}': {e}", path.display())))
        };
        match (
            exporter
                .export(&result)
                .map_err(|e| Error::Runtime(format!("writing {:?}: {e}", args.format)))?,
            &args.out,
        ) {
            (export::Exported::Text(text), None) => output::out(&text),
            (export::Exported::Text(text), Some(path)) => write(path, &text)?,
            (export::Exported::Files(_), None) => {
                return Err(Error::Usage(
                    "this format writes several files: give --out DIR".into(),
                ))
            }
            (export::Exported::Files(files), Some(dir)) => {
                let building =
                    ipcbench::output::folder::Building::beside(dir).map_err(Error::runtime)?;
                for (name, text) in &files {
                    write(&building.path().join(name), text)?;
                }
                building.install().map_err(Error::runtime)?;
                let names: Vec<String> = files
                    .iter()
                    .map(|(n, _)| format!("{}/{n}", dir.display()))
                    .collect();
                say!("wrote {}", names.join(" and "));
            }
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

fn doctor(args: &DoctorArgs) -> i32 {
    let allowed = ipcbench::sys::affinity::allowed_cpus();
    // No readable affinity: the checks still run, for CPU 0.
    let pair = args
        .cpus
        .or_else(|| options::cpu_pair(&allowed))
        .unwrap_or((0, 0));
    let findings = ipcbench::doctor::examine_by_trying(pair);
    if args.json {
        output::out(&(serde_json::to_string_pretty(&findings).expect("JSON") + "\n"));
    } else {
        output::out(&ipcbench::doctor::render(&findings));
    }
    let skewed = findings
        .iter()
        .any(|f| f.level == ipcbench::doctor::Level::Warn);
    i32::from(skewed)
}

fn probe(args: &ProbeArgs) -> i32 {
    let outcome = (|| -> Result<(), Error> {
        if let Some(p) = &args.json {
            options::check_output_path(p)?;
        }
        let only = ipcbench::probe::parse_subjects(&args.mechanisms).map_err(Error::Usage)?;
        ipcbench::probe::room().map_err(Error::Runtime)?;
        let settings = suite::probe_settings()?;
        let Some(file) = ipcbench::probe::run(&settings, &only) else {
            return Err(Error::Interrupted);
        };
        output::out(&export::markdown::probe_tables(&file));
        if let Some(p) = &args.json {
            ipcbench::results::file::write_value(p, &file)
                .map_err(|e| Error::Runtime(format!("writing '{}': {e}", p.display())))?;
            say!("\nprobe results written to {}", p.display());
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> i32 {
    tell!("ipcbench: {e}");
    e.exit_code()
}

/// Help and version go out as clap writes them; a usage error becomes one
/// line that names the bad value and what is accepted.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let line = line.join(" ");
    tell!("ipcbench: {}", line.trim_start_matches("error: "));
    ExitCode::from(2)
}
