use std::process::ExitCode;

use clap::Parser;

use ipcbench::cli::{Cli, Command, ProbeArgs, ReportArgs, RunArgs};
use ipcbench::error::Error;
use ipcbench::{export, harness, list, options, suite};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_error(e),
    };
    let code = match cli.command {
        Some(Command::Peer(args)) => harness::peer::main(&args),
        Some(Command::List) => {
            print!("{}", list::render());
            0
        }
        Some(Command::Run(args)) => run(&args),
        Some(Command::Probe(args)) => probe(&args),
        Some(Command::Report(args)) => report(&args),
        Some(Command::ProbePeer(args)) => ipcbench::probe::helper::main(&args),
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
        let (result, clean) = suite::run(&plan)?;
        println!("{}", export::markdown::report(&result));
        println!("results written to {}", plan.out.display());
        // Interrupted, the run stops at once; the partial results can still
        // be reported later.
        if !result.complete {
            println!(
                "no report for an interrupted run: ipcbench report {}",
                plan.out.display()
            );
        } else {
            match ipcbench::report::write(&result, &plan.out, &report_dir(&plan.out), None) {
                Ok(index) => println!("report written to {}", index.display()),
                Err(e) => eprintln!("ipcbench: the report could not be written: {e}"),
            }
        }
        Ok((result.complete, clean))
    });
    match outcome {
        Ok((_, true)) => 0,
        Ok((false, _)) => {
            eprintln!("ipcbench: interrupted; partial results were written");
            130
        }
        Ok((true, false)) => 1,
        Err(e) => fail(&e),
    }
}

/// `results/run-X.json` gets its report in `results/run-X/`.
fn report_dir(result: &std::path::Path) -> std::path::PathBuf {
    result.with_extension("")
}

fn report(args: &ReportArgs) -> i32 {
    let outcome = (|| -> Result<std::path::PathBuf, Error> {
        let result = export::json::read(&args.result).map_err(Error::Usage)?;
        let baseline = match &args.compare {
            Some(p) => Some((export::json::read(p).map_err(Error::Usage)?, p.as_path())),
            None => None,
        };
        let out = args.out.clone().unwrap_or_else(|| report_dir(&args.result));
        ipcbench::report::write(
            &result,
            &args.result,
            &out,
            baseline.as_ref().map(|(r, p)| (r, *p)),
        )
        .map_err(Error::Runtime)
    })();
    match outcome {
        Ok(index) => {
            println!("report written to {}", index.display());
            0
        }
        Err(e) => fail(&e),
    }
}

fn probe(args: &ProbeArgs) -> i32 {
    let outcome = (|| -> Result<(), Error> {
        if let Some(p) = &args.json {
            options::check_output_path(p)?;
        }
        let settings = suite::probe_settings()?;
        let file = ipcbench::probe::run(&settings);
        print!("{}", export::markdown::probe_tables(&file));
        if let Some(p) = &args.json {
            export::json::write_value(p, &file)
                .map_err(|e| Error::Runtime(format!("writing '{}': {e}", p.display())))?;
            println!("\nprobe results written to {}", p.display());
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> i32 {
    eprintln!("ipcbench: {e}");
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
    eprintln!("ipcbench: {}", line.trim_start_matches("error: "));
    ExitCode::from(2)
}
