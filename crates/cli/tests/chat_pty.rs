//! `reasoner chat` on a pseudo-terminal, as a person uses it: /commands that answer, history
//! recalled with the previous-history key, a `\` continuation and a paste each kept as one message,
//! Ctrl-C stopping a reply while the conversation goes on, and Ctrl-C twice at the prompt leaving.

use reasoner_testutil::fixture_arg;
use rexpect::reader::Options;
use rexpect::session::{PtySession, spawn_with_options};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn chat(dir: &Path, args: &[&str]) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reasoner"));
    cmd.arg("chat")
        .args(args)
        .env("HOME", dir)
        .env("TERM", "xterm")
        .env_remove("REASONER_HISTORY")
        .env_remove("XDG_STATE_HOME");
    // Generous: the CI machine is shared, and a tiny model still has to load.
    spawn_with_options(cmd, Options::new().timeout_ms(Some(60_000)).strip_ansi_escape_codes(true))
        .expect("spawn chat on a pty")
}

fn saved(file: &Path) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap().to_string(), m["content"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn commands_history_and_continuation() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = chat(dir.path(), &["-m", &fixture_arg("qwen2_f32"), "--max-tokens", "4", "--seed", "1"]);
    p.exp_string(">>> ").unwrap();
    p.send_line("/help").unwrap();
    p.exp_string("/reset").unwrap();
    p.send_line("/set temperature 0.25").unwrap();
    p.exp_string("temperature = 0.25").unwrap();
    p.send_line("/set top_p 7").unwrap();
    p.exp_string("/set top_p: must be in (0, 1], got 7").unwrap();
    p.send_line("hello there").unwrap();
    p.exp_string("finish: length (--max-tokens 4)").unwrap();
    // The previous-history key (Ctrl-P, as the up arrow) brings the message back; Enter sends it.
    p.exp_string(">>> ").unwrap();
    p.send_control('p').unwrap();
    p.exp_string("hello there").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string("finish: length (--max-tokens 4)").unwrap();
    // A line ending in \ continues: two lines, one message.
    p.send("line one \\\r").unwrap();
    p.send("line two\r").unwrap();
    p.flush().unwrap();
    p.exp_string("finish: length (--max-tokens 4)").unwrap();
    // A paste (bracketed by the terminal) of three lines is one message, sent by Enter.
    p.send("\x1b[200~first\nsecond\nthird\x1b[201~").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string("finish: length (--max-tokens 4)").unwrap();
    let file = dir.path().join("conversation.json");
    p.send_line(&format!("/save {}", file.display())).unwrap();
    p.exp_string("saved 8 messages").unwrap();
    p.send_line("/reset").unwrap();
    p.exp_string("conversation cleared (8 messages forgotten)").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();

    let turns = saved(&file);
    let users: Vec<&str> = turns.iter().filter(|(r, _)| r == "user").map(|(_, c)| c.as_str()).collect();
    assert_eq!(users, ["hello there", "hello there", "line one \nline two", "first\nsecond\nthird"]);
    assert_eq!(turns.iter().filter(|(r, _)| r == "assistant").count(), 4);
    // The history file outlives the session, under ~/.local/state.
    let history = std::fs::read_to_string(dir.path().join(".local/state/reasoner/chat_history")).unwrap();
    assert!(history.contains("hello there") && history.contains("/set temperature 0.25"), "{history}");
}

#[test]
fn hidden_thinking_is_counted_and_the_stats_line_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // This fixture carries R1-Distill's template, which opens <think> in the prompt.
    let mut p = chat(
        dir.path(),
        &["-m", &fixture_arg("qwen2_bf16_sharded"), "--max-tokens", "20", "--seed", "1", "--hide-thinking"],
    );
    p.exp_string(">>> ").unwrap();
    p.send_line("hi").unwrap();
    // rexpect reads bytes as Latin-1, so the needles stay ASCII ("thinking… (1 token)").
    p.exp_string(" (1 token)").unwrap();
    p.exp_string("20 tokens (20 thinking)").unwrap();
    p.exp_string("finish: length (--max-tokens 20)").unwrap();
    p.send_line("/set thinking show").unwrap();
    p.exp_string("thinking = show").unwrap();
    p.send_line("hi again").unwrap();
    p.exp_string("Thinking").unwrap();
    p.exp_string("finish: length").unwrap();
    p.send_line("/exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn ctrl_c_stops_the_reply_and_keeps_the_conversation() {
    let dir = tempfile::tempdir().unwrap();
    // Seed 5 on this fixture writes 1,339 tokens before its end-of-text token (seen with
    // `generate --seed 5`), about 10 s on a 2-core machine: Ctrl-C as soon as the reply's first
    // text arrives lands inside it.
    let mut p = chat(dir.path(), &["-m", &fixture_arg("deepseek_v2_lite"), "--seed", "5", "--max-tokens", "2000"]);
    p.exp_string(">>> ").unwrap();
    p.send_line("hello").unwrap();
    p.exp_string("hello").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match p.try_read() {
            Some(c) if !c.is_whitespace() => break,
            Some(_) => {}
            None => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
        assert!(std::time::Instant::now() < deadline, "no reply within 60 s");
    }
    p.send_control('c').unwrap();
    p.exp_string("finish: cancelled (Ctrl-C)").unwrap();
    p.exp_string(">>> ").unwrap();
    let file = dir.path().join("c.json");
    p.send_line(&format!("/save {}", file.display())).unwrap();
    p.exp_string("saved").unwrap();
    p.exp_string(">>> ").unwrap();
    let turns = saved(&file);
    assert_eq!(turns[0], ("user".to_string(), "hello".to_string()), "the conversation survives Ctrl-C");
    assert!(turns.len() == 2 && !turns[1].1.is_empty(), "the partial answer is kept: {turns:?}");
    // At the prompt: the first Ctrl-C warns, the second leaves.
    p.send_control('c').unwrap();
    p.exp_string("Ctrl-C again to leave").unwrap();
    p.send_control('c').unwrap();
    p.exp_eof().unwrap();
}
