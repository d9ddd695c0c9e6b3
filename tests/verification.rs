//! Injected faults are counted as exactly what they are.

mod common;
use common::*;

fn inject(fault: &str, mechanism: &str) -> (u64, u64, u64, u64) {
    let sb = Sandbox::new();
    let out = sb.out();
    let mut args = vec!["run", "-m", mechanism, "--patterns", "throughput"];
    args.extend(sizes_arg(mechanism, "256"));
    args.extend([
        "-n",
        "200",
        "--pin",
        "none",
        "--inject",
        fault,
        "--out",
        out.to_str().unwrap(),
    ]);
    let o = sb.run(&args);
    // Verification errors make the run exit 1, loudly.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("VERIFICATION ERRORS"));
    let r = sb.result();
    let row = &rows(&r)[0];
    assert_eq!(row["status"], "ok", "{row}");
    sb.assert_nothing_left();
    errors(row)
}

#[test]
fn a_corrupted_payload_is_counted_as_corruption() {
    assert_eq!(inject("corrupt@5", "pipe"), (0, 0, 0, 1));
    assert_eq!(inject("corrupt@50", "uds-dgram"), (0, 0, 0, 1));
}

#[test]
fn a_dropped_message_is_counted_as_lost() {
    assert_eq!(inject("drop@7", "uds-stream"), (1, 0, 0, 0));
    // A bare signal is checked by its count alone.
    assert_eq!(inject("drop@7", "semaphore"), (1, 0, 0, 0));
}

#[test]
fn a_repeated_message_is_counted_as_duplicated() {
    assert_eq!(inject("repeat@9", "fifo"), (0, 1, 0, 0));
    assert_eq!(inject("repeat@9", "semaphore"), (0, 1, 0, 0));
}

#[test]
fn swapped_messages_are_counted_as_reordered() {
    assert_eq!(inject("swap@3", "pipe"), (0, 0, 1, 0));
}

#[test]
fn garbage_from_the_peer_is_counted_as_corruption_not_a_crash() {
    // The semaphore carries no bytes, so it has nothing to spoil.
    for m in all().into_iter().filter(|m| carries_payload(m)) {
        let sb = Sandbox::new();
        let out = sb.out();
        let o = sb.run(&[
            "run",
            "-m",
            m,
            "--patterns",
            "latency",
            "--sizes",
            "256",
            "-n",
            "100",
            "--pin",
            "none",
            "--inject",
            "garbage@5",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{m}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r = sb.result();
        let row = &rows(&r)[0];
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(errors(row), (0, 0, 0, 1), "{m}: {row}");
    }
}
