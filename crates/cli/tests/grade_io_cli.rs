//! `reasoner grade`'s input and exit status: the response from stdin (`--response -`) or a
//! file, values that start with `-`, and 0 / 1 / 2 for correct / wrong / error.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn reasoner(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reasoner"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run reasoner");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

#[test]
fn response_from_stdin_and_file() {
    // A long response, as a model writes one: well past any argv-friendly size.
    let long = format!("<think>{}</think>The answer is \\boxed{{12}}.", "let me think. ".repeat(20_000));
    let out = reasoner(&["grade", "--gold", "12", "--response", "-"], Some(&long));
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), b"true\n".as_slice()));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.txt");
    std::fs::write(&file, &long).unwrap();
    let out = reasoner(&["grade", "--gold", "13", "--response-file", file.to_str().unwrap()], None);
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(1), b"false\n".as_slice()));

    let out = reasoner(&["grade", "--gold", "13", "--response-file", dir.path().join("nope").to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--response-file") && err.contains("nope"), "{err}");
}

#[test]
fn values_may_start_with_a_dash() {
    let out = reasoner(&["grade", "--gold", "-3", "--response", "-3"], None);
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), b"true\n".as_slice()));
    let out = reasoner(&["grade", "--gold", "-3", "--response", "-5"], None);
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(1), b"false\n".as_slice()));
}

#[test]
fn usage_errors_exit_2() {
    let out = reasoner(&["grade", "--gold", "1"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = reasoner(&["grade", "--gold", "1", "--response", "1", "--response-file", "x"], None);
    assert_eq!(out.status.code(), Some(2));
}
